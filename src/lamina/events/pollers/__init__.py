"""One poller per event source mapping, per kind of source: it reads records, batches
them, filters them, hands them to the dispatcher and settles them with the source."""
