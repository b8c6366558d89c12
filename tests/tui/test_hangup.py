"""The console leaves when its terminal hangs up (an SSH session drops), instead of running on at full CPU."""
from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

DRAWN_WITHIN_S = 60
GONE_WITHIN_S = 15


def _read_until(master: int, text: bytes, seconds: float) -> bytes:
    seen, deadline = b"", time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            seen += os.read(master, 65536)
    return seen


def test_the_console_exits_when_its_terminal_hangs_up(tmp_path):
    master, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    # a new session without a controlling terminal: no SIGHUP arrives, as when a hang-up signal goes elsewhere
    console = subprocess.Popen([sys.executable, "-m", "rca_tui", "--db", str(tmp_path / "rca.db")],
                               stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True,
                               env=os.environ | {"TERM": "xterm-256color"})
    os.close(terminal)
    try:
        assert b"demo" in _read_until(master, b"demo", DRAWN_WITHIN_S)  # the offer to run the bundled demo
        os.close(master)
        console.wait(timeout=GONE_WITHIN_S)
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
