"""Byte-stable writing (same seed, same bytes) and the id remapping that keeps reused minutes distinct."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]] | list[list[str]]) -> None:
    """Plain CSV, or gzip when the name ends in .gz (no name or time in the gzip header: same bytes each run)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    write_bytes(path, buffer.getvalue().encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            zipped.write(data)
    else:
        path.write_bytes(data)


def write_json(path: Path, document: object) -> None:
    write_bytes(path, (json.dumps(document, indent=4, sort_keys=True) + "\n").encode("utf-8"))


def remap_id(original: str, placement: str) -> str:
    """A fresh id of the same length and alphabet, fixed by (id, placement): a source minute copied to two
    places yields two sets of traces, never one trace id seen twice."""
    if not original or original == "root":
        return original
    digest = hashlib.blake2b(f"{placement}/{original}".encode(), digest_size=32).hexdigest()
    return digest[: len(original)]
