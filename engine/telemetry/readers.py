"""CSV / gzip / JSON reading with errors that name the file and what was expected."""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from datetime import datetime, timezone
from pathlib import Path

from engine.telemetry.errors import TelemetryError

csv.field_size_limit(2**24)  # Nezha log lines embed whole JSON documents


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """All rows of a .csv or .csv.gz file as dicts; the header must contain `required`."""
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames, required)
            return list(reader)
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        raise TelemetryError(f"{path}: cannot read as {'gzip ' if path.suffix == '.gz' else ''}CSV ({exc})") from exc


def read_csv_table(path: Path) -> list[list[str]]:
    """Raw rows (header included) of a plain CSV file."""
    try:
        with _open_text(path) as handle:
            return list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TelemetryError(f"{path}: cannot read as CSV ({exc})") from exc


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TelemetryError(f"{path}: expected a JSON document ({exc})") from exc


def to_float(path: Path, column: str, value: str) -> float:
    """A numeric cell; empty means missing (NaN)."""
    if value == "" or value is None:
        return float("nan")
    try:
        return float(value)
    except ValueError:
        raise TelemetryError(f"{path}: column {column!r} expected a number, got {value[:40]!r}") from None


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _check_header(path: Path, header: list[str] | None, required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in (header or [])]
    if missing:
        raise TelemetryError(f"{path}: missing column(s) {', '.join(missing)}; expected header with {', '.join(required)}")


def parse_timestamp(value: object) -> float:
    """Epoch seconds from an ISO 8601 string (no zone = UTC) or an epoch number in s, ms, µs or ns.

    Raises ValueError; callers name the source."""
    if isinstance(value, str) and not _NUMBER_TEXT.fullmatch(value.strip()):
        moment = datetime.fromisoformat(value.strip().replace(",", "."))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    number = float(value)  # type: ignore[arg-type]
    divisor = next((d for d, above in EPOCH_UNITS if number > above), 1.0)
    return number / divisor


EPOCH_UNITS = ((1e9, 1e17), (1e6, 1e14), (1e3, 1e11))  # (divisor, smallest value in that unit) for ns, µs, ms
_NUMBER_TEXT = re.compile(r"\d+(?:\.\d+)?")
