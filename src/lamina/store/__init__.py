"""Persistence drivers: resource state (SQLite by default) and content-addressed blobs."""
