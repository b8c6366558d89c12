"""Parsed telemetry files kept on disk (`$RCA_TUI_CACHE/telemetry`), so that a later run, or another worker, reads a
minute file's records back instead of parsing its CSV again.

An entry is keyed by the file's resolved path, size and modification time and a hash of the parsing code, so an
edited file or parser is parsed afresh; it holds the records' fields column by column as JSON (floats written as
their shortest repr, which reads back to the same float), deflated (a fifth of the size, for little time). An
entry that cannot be read is parsed again and rewritten; a cache folder that cannot be written is passed by.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from engine.config import settings
from engine.parallel import write_atomically
from engine.provenance import code_version

PARSER_CODE = ("telemetry/nezha_files.py", "telemetry/readers.py", "telemetry/model.py", "telemetry/parsed_cache.py")
Record = TypeVar("Record")


def cached_records(path: Path, record_type: type[Record], parse: Callable[[Path], tuple[Record, ...]],
                   mtime_ns: int, size: int) -> tuple[Record, ...]:
    """`parse(path)`'s records (a dataclass `record_type`), from the cache when an entry for this version of the
    file and of the parser exists, else parsed and stored."""
    entry = _entry(path, record_type, mtime_ns, size)
    names = [field.name for field in fields(record_type)]
    try:
        stored = json.loads(zlib.decompress(entry.read_bytes()))
        if stored["fields"] == names:
            return tuple(map(record_type, *stored["columns"])) if stored["columns"][0] else ()
    except (OSError, zlib.error, ValueError, KeyError, TypeError, IndexError):
        pass  # absent or unreadable: parse again
    records = parse(path)
    columns = [[getattr(record, name) for record in records] for name in names]
    try:
        packed = zlib.compress(json.dumps({"fields": names, "columns": columns}).encode(), 1)
        write_atomically(entry, lambda tmp: tmp.write_bytes(packed), ".tmp")
    except OSError:
        pass  # a cache that cannot be written (read-only, full) only costs the next run a parse
    return records


def _entry(path: Path, record_type: type, mtime_ns: int, size: int) -> Path:
    text = json.dumps([str(path.resolve()), mtime_ns, size, record_type.__name__, code_version(*PARSER_CODE)])
    return settings().cache_root / "telemetry" / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.json.z"
