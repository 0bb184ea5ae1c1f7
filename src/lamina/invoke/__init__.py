"""Invocation: qualifier resolution, the synchronous path, and (later) async queues,
retries and destinations."""
