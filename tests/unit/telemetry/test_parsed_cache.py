"""Parsed minute files come back from $RCA_TUI_CACHE/telemetry as the same records, without parsing again; an
edited file, or a damaged entry, is parsed afresh."""
from __future__ import annotations

import os

from engine.telemetry.model import Span
from engine.telemetry.parsed_cache import cached_records


def test_records_come_back_identical_and_an_edited_or_damaged_file_is_parsed_again(tmp_path, isolated_cache):
    source = tmp_path / "10_00_trace.csv"
    source.write_text("any text")
    spans = (Span("t1", "s1", "", "front", "GET /", 1661245200.123456, 12.5),
             Span("t1", "s2", "s1", "cart", "Get\u00e9", 1661245200.2, 0.1 + 0.2))
    parsed = []

    def parse(path):
        parsed.append(path)
        return spans

    def read():
        stat = source.stat()
        return cached_records(source, Span, parse, stat.st_mtime_ns, stat.st_size)

    assert read() == spans and read() == spans and len(parsed) == 1
    os.utime(source, ns=(1, 1))  # the file changed
    assert read() == spans and len(parsed) == 2
    for entry in (isolated_cache / "telemetry").glob("*.json.z"):  # one per version of the file
        entry.write_bytes(b"{not deflated json")
    assert read() == spans and len(parsed) == 3
    assert read() == spans and len(parsed) == 3


def test_a_file_without_records_reads_back_empty(tmp_path, isolated_cache):
    source = tmp_path / "empty.csv"
    source.write_text("")
    stat = source.stat()
    for _ in range(2):
        assert cached_records(source, Span, lambda path: (), stat.st_mtime_ns, stat.st_size) == ()
