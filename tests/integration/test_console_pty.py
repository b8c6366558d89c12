"""`make run` as a person meets it: `rca-tui demo` in a real 80x24 pseudo-terminal draws the console's panes."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")
PANES = ("Agent log", "SOP", "Leaderboard", "Votes")


def _screen_text(raw: bytes) -> str:
    return ANSI.sub(" ", raw.decode("utf-8", "replace"))


def _run_in_pty(argv: list[str], env: dict[str, str], until, seconds: float) -> tuple[str, int | None]:
    """Run argv in an 80x24 pty until `until(text)` holds (or time runs out), then Ctrl+Q; (text, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the console
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    raw, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline and not until(_screen_text(raw)):
        raw += _read_some(fd)
    os.write(fd, b"\x11")  # ctrl+q
    status = _wait_exit(pid, fd)
    return _screen_text(raw), status


def _read_some(fd: int) -> bytes:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # the child closed the terminal
        return b""


def _wait_exit(pid: int, fd: int, seconds: float = 15) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _read_some(fd)  # keep draining so the child never blocks writing to a full pty
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.slow
def test_demo_opens_the_console_in_a_real_terminal(tmp_path: Path):
    env = {**os.environ, "RCA_TUI_DB": str(tmp_path / "demo.db"), "RCA_TUI_CACHE": str(tmp_path / "cache"),
           "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    env.pop("NO_COLOR", None)

    def drawn(text: str) -> bool:
        return "Traceback" in text or ("finished" in text and all(pane in text for pane in PANES))

    text, status = _run_in_pty([sys.executable, "-m", "rca_tui", "demo"], env, drawn, seconds=90)

    assert "Traceback" not in text, text[-3000:]
    assert all(pane in text for pane in PANES), text[-3000:]
    assert "finished" in text  # the demo run itself ran to its end inside the console
    assert status == 0
