"""Front door: SigV4, the AWS wire protocols, routing by service. No business logic."""
