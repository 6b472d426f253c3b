"""Persistence: the ORM models, the database engine and the repositories."""
