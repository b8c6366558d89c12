"""Errors of the store that the CLI reports without importing the store itself (it stays fast to start)."""


class SchemaTooNew(RuntimeError):
    """The database was written by a newer rca-tui than this one."""
