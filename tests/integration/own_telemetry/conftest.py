"""A real shop with an injected fault, and a real Prometheus server holding an hour of its history.

The history is backfilled with `promtool tsdb create-blocks-from openmetrics` (seconds, no scrape waits): one
sample a second per service, the shop's measured request durations and error ratios for the minutes it ran, its
normal level before that. `prometheus` / `promtool` come from PATH (Debian package `prometheus`, installed by
`make prometheus`); without them these tests skip and say why.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.integration.own_telemetry.shop_app import SLOW_SECONDS, Shop, run_traffic

NORMAL_SECONDS = 5.0
FAULT_SECONDS = 5.0
HISTORY_SECONDS = 3600
QUERIES = """entity_label = "service"
step = "1s"
[queries]
average_duration = 'app_request_duration_ms'
error_rate = 'app_request_error_ratio'
"""
RULES = """groups:
  - name: shop
    rules:
      - alert: FrontendSlow
        expr: app_request_duration_ms{{service="frontend"}} > {slow_threshold_ms:.0f}
        for: 2s
      - alert: FrontendFailing
        expr: app_request_error_ratio{{service="frontend"}} > 0.5
        for: 2s
"""


@dataclass(frozen=True)
class FaultyShop:
    folder: Path
    culprit: str
    mode: str
    injected_at: float
    shop: Shop

    @property
    def traces(self) -> Path:
        return self.shop.traces

    @property
    def logs(self) -> Path:
        return self.shop.logs


def run_faulty_shop(folder: Path, culprit: str, mode: str) -> FaultyShop:
    shop = Shop(folder)
    try:
        run_traffic(shop, NORMAL_SECONDS)
        injected_at = shop.inject(culprit, mode)
        run_traffic(shop, FAULT_SECONDS)
    finally:
        shop.close()
    return FaultyShop(folder, culprit, mode, injected_at, shop)


def openmetrics_history(shop: Shop, end: float) -> str:
    """Per service and second: mean request duration (ms) and error ratio; before the shop ran, its normal mean."""
    lines = {"app_request_duration_ms": [], "app_request_error_ratio": []}
    rng = np.random.default_rng(0)
    for service, samples in sorted(shop.durations.items()):
        first = int(min(s[0] for s in samples))
        normal = normal_duration_ms(samples)
        per_second: dict[int, list[tuple[float, bool]]] = {}
        for started, duration, failed in samples:
            per_second.setdefault(int(started), []).append((duration, failed))
        for second in range(int(end) - HISTORY_SECONDS, int(end) + 1):
            if second < first:
                duration, errors = normal * (1 + 0.05 * rng.standard_normal()), 0.0
            elif second in per_second:
                duration = float(np.mean([d for d, _ in per_second[second]]))
                errors = float(np.mean([f for _, f in per_second[second]]))
            else:
                continue
            stamp = second + 1  # a second's figures are known at its end
            lines["app_request_duration_ms"].append(f'app_request_duration_ms{{service="{service}"}} {duration:.4f} {stamp}')
            lines["app_request_error_ratio"].append(f'app_request_error_ratio{{service="{service}"}} {errors:.4f} {stamp}')
    text = []
    for name, samples in lines.items():
        text += [f"# TYPE {name} gauge", *samples]
    return "\n".join(text + ["# EOF", ""])


def normal_duration_ms(samples: list[tuple[float, float, bool]]) -> float:
    """A service's mean request duration over the shop's fault-free seconds (high when the machine is loaded)."""
    first = min(s[0] for s in samples)
    return float(np.mean([s[1] for s in samples if s[0] < first + NORMAL_SECONDS - 1]))


def alert_rules(shop: Shop) -> str:
    """The alert rules, the slow threshold half the injected slowness above the frontend's own normal level.

    A fixed threshold fired on the normal period whenever a loaded machine made every request slow."""
    normal = normal_duration_ms(shop.durations["frontend"])
    return RULES.format(slow_threshold_ms=max(40.0, normal + 500 * SLOW_SECONDS))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prometheus_binaries() -> tuple[str, str]:
    found = shutil.which("prometheus"), shutil.which("promtool")
    if not all(found):
        pytest.skip("prometheus / promtool not on PATH: `make prometheus` (Debian: apt-get install prometheus)")
    return found  # type: ignore[return-value]


def start_backfilled_prometheus(folder: Path, openmetrics: str):
    """A Prometheus server whose TSDB holds `openmetrics`; yields its base URL, stops it afterwards."""
    prometheus, promtool = prometheus_binaries()
    data = folder / "tsdb"
    source = folder / "history.om"
    source.write_text(openmetrics)
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)], check=True,
                   capture_output=True, timeout=120)
    config = folder / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    process = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
                                f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                               stdout=subprocess.DEVNULL, stderr=(folder / "prometheus.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, folder / "prometheus.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 60.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"prometheus not ready after {seconds} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module", params=[("payment", "slow"), ("cart", "error")], ids=["slow-payment", "failing-cart"])
def faulty_shop(request, tmp_path_factory) -> FaultyShop:
    return run_faulty_shop(tmp_path_factory.mktemp(request.param[0]), *request.param)


@pytest.fixture(scope="module")
def shop_prometheus(faulty_shop):
    end = max(s[0] for samples in faulty_shop.shop.durations.values() for s in samples)
    yield from start_backfilled_prometheus(faulty_shop.folder, openmetrics_history(faulty_shop.shop, end))


@pytest.fixture(scope="module")
def prometheus_files(faulty_shop) -> tuple[Path, Path]:
    queries, rules = faulty_shop.folder / "queries.toml", faulty_shop.folder / "rules.yml"
    queries.write_text(QUERIES)
    rules.write_text(alert_rules(faulty_shop.shop))
    return queries, rules
