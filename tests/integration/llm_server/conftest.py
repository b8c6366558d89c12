"""llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`, from `llama-cpp-python[server]`) serving
the bundled SmolLM2 GGUF on a free port of 127.0.0.1.

llama-cpp-python is an sdist that compiles llama.cpp (minutes), so it is not in the project's environment: `make
test-llm` builds its wheel once into a cache, installs it into a venv of its own and names that venv's Python in
LLAMA_SERVER_PYTHON. Without a Python that imports `llama_cpp.server` these tests skip and say so.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.attribution.slm import ModelNotFoundError, bundled_gguf

CONTEXT_TOKENS = 8192  # SmolLM2's own; the prompts carry observations of several kB


def _server_python() -> str:
    for python in (os.environ.get("LLAMA_SERVER_PYTHON"), sys.executable):
        if python and subprocess.run([python, "-c", "import llama_cpp.server"], capture_output=True).returncode == 0:
            return python
    pytest.skip("llama-cpp-python[server] is not installed: `make test-llm` builds and installs it (or set "
                "LLAMA_SERVER_PYTHON to a Python that has it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> str:
    """The server's base URL (…/v1); the server is stopped after the session."""
    python = _server_python()
    try:
        model = bundled_gguf()
    except ModelNotFoundError as error:
        pytest.skip(str(error))
    port, log = _free_port(), tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [python, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT_TOKENS),
             "--n_threads", str(min(2, os.cpu_count() or 1))],
            stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server not ready within {seconds:g} s:\n{log.read_text()[-3000:]}")
