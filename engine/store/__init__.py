from engine.store.db import open_db, transaction

__all__ = ["open_db", "transaction"]
