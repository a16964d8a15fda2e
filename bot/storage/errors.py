"""Storage exceptions: each message names the database (password masked) and what to do."""

from __future__ import annotations


class StorageError(Exception):
    """Base for database problems that a command turns into one line."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached or refused the login."""


class SchemaError(StorageError):
    """The database schema does not match this code (too new, or a migration failed)."""
