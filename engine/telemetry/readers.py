"""CSV / gzip / JSON reading with errors that name the file and what was expected."""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import zlib
from datetime import datetime, timezone
from pathlib import Path

from engine.telemetry.errors import TelemetryError

csv.field_size_limit(2**24)  # Nezha log lines embed whole JSON documents


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """All rows of a .csv or .csv.gz file as dicts; the header must contain `required`.

    A row with fewer cells than the header is an error naming its row number (the header is row 1), never
    padded with missing values; cells past the header are ignored. Data row i is `row_number(i)`."""
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            _check_header(path, header, required)
            rows = []
            for cells in reader:
                if not cells:
                    continue  # a blank line
                if len(cells) < len(header):
                    raise TelemetryError(_width_message(path, row_number(len(rows)), len(cells), len(header)))
                rows.append(dict(zip(header, cells)))  # cells past the header are ignored, as csv.DictReader
                # does: Nezha's 2023-01-29/log/10_06_log.csv.gz row 631 has 10 (a log text split by a comma)
            return rows
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
    except RecursionError:
        raise TelemetryError(f"{path}: expected a JSON document nested less deeply (too deep for the parser)") from None


def row_number(index: int) -> int:
    """The row number (header = row 1) of the data row at 0-based `index`."""
    return index + 2


def check_width(path: Path, row: int, cells: list[str], width: int) -> None:
    """A raw CSV row must have `width` cells; a truncated one is an error, never padded."""
    if len(cells) != width:
        raise TelemetryError(_width_message(path, row, len(cells), width))


def _width_message(path: Path, row: int, found: int, width: int) -> str:
    kind = "truncated? " if found < width else ""
    return f"{path}: row {row} has {found} cells; {kind}expected {width} like the header"


def to_number(path: Path, row: int, column: str, value: str) -> float:
    """A cell that must hold a finite number (a timestamp, a duration, an adjacency weight)."""
    number = _parse(path, row, column, value)
    if not math.isfinite(number):
        raise TelemetryError(f"{path}: row {row}, column {column!r}: expected a finite number, got {value[:40]!r}")
    return number


def to_sample(path: Path, row: int, column: str, value: str) -> float:
    """A metric sample. An empty cell is a missing sample (NaN, counted by `count_missing`); so is the text NaN in a
    latency-percentile column, where exporters write it for a minute without requests. Any other NaN and every
    infinity is an error naming the file, row and column."""
    if value == "":
        return math.nan
    number = _parse(path, row, column, value)
    if math.isinf(number) or (math.isnan(number) and not NAN_MEANS_NO_REQUESTS.search(column)):
        raise TelemetryError(
            f"{path}: row {row}, column {column!r}: expected a finite number or an empty cell, got {value[:40]!r}"
        )
    return number


def count_missing(values: dict[str, "object"]) -> int:
    """How many samples of a series' value arrays are missing (NaN)."""
    import numpy as np

    return int(sum(np.isnan(array).sum() for array in values.values()))


NAN_MEANS_NO_REQUESTS = re.compile(r"Latency\s*P\d{2}", re.IGNORECASE)  # Nezha: PodServerLatencyP90(s), ...


def _parse(path: Path, row: int, column: str, value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TelemetryError(f"{path}: row {row}, column {column!r}: expected a number, got {str(value)[:40]!r}") from None


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
