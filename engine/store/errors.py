"""Errors of the store that the CLI reports without importing the store itself (it stays fast to start)."""


class DatabaseUnusable(RuntimeError):
    """A database rca-tui will not use as asked; the message says why and what to do instead."""


class SchemaTooNew(DatabaseUnusable):
    """The database was written by a newer rca-tui than this one."""
