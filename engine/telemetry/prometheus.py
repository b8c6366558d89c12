"""Metrics from Prometheus: a live server's `query_range` API, or the same JSON saved to a file.

The queries live in a small TOML file; each query's name is the metric name the analysis sees (name them
after the families it knows: `error_rate`, `success_rate`, `timeout_rate`, `average_duration` in ms,
`CpuUsageRate`, `MemoryUsageRate`), and each must return one series per service:

    entity_label = "service"      # the label that names the service (default "service")
    step = "15s"                  # query_range resolution
    timeout = 10                  # seconds per request
    [queries]
    error_rate = 'sum by (service) (rate(http_errors_total[1m])) / sum by (service) (rate(http_requests_total[1m]))'

A saved file holds either one query_range response (the metric name is each series' `__name__`, else the
file name) or an object {query name: query_range response}.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import MetricSeries
from engine.telemetry.readers import read_json

DEFAULT_ENTITY_LABEL = "service"
DEFAULT_STEP_SECONDS = 15.0
DEFAULT_TIMEOUT_SECONDS = 10.0
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class QueryConfig:
    queries: dict[str, str] = field(default_factory=dict)
    entity_label: str = DEFAULT_ENTITY_LABEL
    step_seconds: float = DEFAULT_STEP_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class RangeResult:
    """One query's answer: (labels, times, values) per series."""

    name: str
    series: list[tuple[dict[str, str], np.ndarray, np.ndarray]]


def read_query_config(path: Path | None) -> QueryConfig:
    if path is None:
        return QueryConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TelemetryError(f"{path}: cannot read the Prometheus query config as TOML ({exc})") from None
    queries = document.get("queries", {})
    if not isinstance(queries, dict) or not all(isinstance(q, str) for q in queries.values()):
        raise TelemetryError(f"{path}: [queries] must map metric names to PromQL strings")
    return QueryConfig(queries, str(document.get("entity_label", DEFAULT_ENTITY_LABEL)),
                       parse_duration(f"{path}: step", document.get("step", DEFAULT_STEP_SECONDS)),
                       float(document.get("timeout", DEFAULT_TIMEOUT_SECONDS)))


def parse_duration(where: str, value: object) -> float:
    """Seconds from a Prometheus duration ('15s', '1m', '500ms') or a number of seconds."""
    match = DURATION.match(str(value).strip())
    if match is None:
        raise TelemetryError(f"{where}: {value!r} is not a duration such as 15s, 1m or 500ms")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def query_range(base_url: str, name: str, promql: str, start: float, end: float, config: QueryConfig) -> RangeResult:
    params = urllib.parse.urlencode({"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                     "step": f"{config.step_seconds:g}"})
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    return range_result(f"{base_url} query {name!r}", name, _get_json(base_url, name, url, config.timeout_seconds))


def fetch_metrics(base_url: str, config: QueryConfig, start: float, end: float) -> dict[str, MetricSeries]:
    if not config.queries:
        raise TelemetryError(f"{base_url}: no queries; give --prometheus-queries FILE with a [queries] table")
    results = [query_range(base_url, name, promql, start, end, config) for name, promql in config.queries.items()]
    return series_by_entity(base_url, results, config.entity_label)


def read_saved_metrics(path: Path, config: QueryConfig) -> dict[str, MetricSeries]:
    document = read_json(path)
    if isinstance(document, dict) and "data" in document:
        results = [range_result(str(path), "", document, default_name=path.name.split(".", 1)[0])]
    elif isinstance(document, dict) and document:
        results = [range_result(f"{path} [{name}]", name, response) for name, response in document.items()]
    else:
        raise TelemetryError(f"{path}: expected a query_range response or {{name: query_range response}}")
    return series_by_entity(str(path), results, config.entity_label)


def range_result(where: str, name: str, response: object, default_name: str = "") -> RangeResult:
    """Parse a query_range response; `name` "" takes each series' `__name__` (else `default_name`)."""
    if not isinstance(response, dict) or response.get("status") != "success":
        error = response.get("error") if isinstance(response, dict) else None
        raise TelemetryError(f"{where}: Prometheus answered with an error: {error or str(response)[:200]}")
    data = response.get("data") or {}
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise TelemetryError(f"{where}: expected resultType 'matrix' (a query_range answer), got {data.get('resultType')!r}")
    series = []
    for entry in data["result"]:
        labels = dict(entry.get("metric") or {})
        labels["__query__"] = name or labels.get("__name__") or default_name
        try:
            points = np.array([[float(t), float(v)] for t, v in entry.get("values", [])]).reshape(-1, 2)
        except (TypeError, ValueError):
            raise TelemetryError(f"{where}: series {labels} has a sample that is not [time, \"number\"]") from None
        series.append((labels, points[:, 0], points[:, 1]))
    return RangeResult(name, series)


def series_by_entity(where: str, results: list[RangeResult], entity_label: str) -> dict[str, MetricSeries]:
    """One MetricSeries per entity on the union of its sample times (NaN where a metric has no sample)."""
    per_entity: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for result in results:
        for labels, times, values in result.series:
            entity, metric = labels.get(entity_label), labels["__query__"]
            if entity is None:
                raise TelemetryError(f"{where}: a series of {metric!r} has no {entity_label!r} label ({labels}); "
                                     f"aggregate by ({entity_label}) or set entity_label")
            if metric in per_entity.setdefault(entity, {}):
                raise TelemetryError(f"{where}: {metric!r} returns several series for {entity_label}={entity}; "
                                     f"aggregate by ({entity_label})")
            per_entity[entity][metric] = (times, values)
    return {entity: _aligned(entity, metrics) for entity, metrics in sorted(per_entity.items())}


def _aligned(entity: str, metrics: dict[str, tuple[np.ndarray, np.ndarray]]) -> MetricSeries:
    times = np.unique(np.concatenate([t for t, _ in metrics.values()]))
    values = {}
    for name, (sample_times, samples) in metrics.items():
        column = np.full(len(times), math.nan)
        column[np.searchsorted(times, sample_times)] = samples
        values[name] = column
    return MetricSeries(entity, times, values)


def _get_json(base_url: str, name: str, url: str, timeout: float) -> object:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return _error_body(base_url, name, exc)
    except (TimeoutError, socket.timeout):
        raise TelemetryError(f"{base_url}: Prometheus did not answer query {name!r} within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise TelemetryError(f"{base_url}: Prometheus did not answer within {timeout:g} s") from None
        raise TelemetryError(f"{base_url}: cannot reach Prometheus ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise TelemetryError(f"{base_url}: query {name!r}: not a Prometheus API answer ({exc})") from None


def _error_body(base_url: str, name: str, exc: urllib.error.HTTPError) -> object:
    """Prometheus explains a bad query in a JSON body of its 400 / 422 answer."""
    try:
        return json.loads(exc.read())
    except (OSError, ValueError):
        raise TelemetryError(f"{base_url}: HTTP {exc.code} for query {name!r}") from None


@dataclass(frozen=True)
class RuleActivation:
    rule: str
    active_at: float  # the first evaluation at which the rule's expression held (Prometheus' "active since")
    firing_at: float  # active_at + the rule's `for`
    entity: str | None  # the firing series' entity label, when it has one


def alert_rule_activation(base_url: str, rules_file: Path, rule_name: str | None, start: float, end: float,
                          config: QueryConfig) -> RuleActivation:
    """When an alerting rule first fired between start and end, evaluating its expression over that range
    (so history backfilled into Prometheus counts as much as scraped history)."""
    name, expr, hold = _alert_rule(rules_file, rule_name)
    result = query_range(base_url, name, expr, start, end, config)
    found = [_first_hold(times, hold, config.step_seconds) for _, times, _ in result.series]
    fired = sorted((at, labels.get(config.entity_label)) for at, (labels, _, _) in zip(found, result.series)
                   if at is not None)
    if not fired:
        raise TelemetryError(f"{rules_file}: alert {name!r} did not fire between {_clock(start)} and {_clock(end)} "
                             f"on {base_url}")
    active_at, entity = fired[0]
    return RuleActivation(name, active_at, active_at + hold, entity)


def _alert_rule(path: Path, wanted: str | None) -> tuple[str, str, float]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise TelemetryError(f"{path}: expected a Prometheus rule file (groups: - rules: - alert: ...) ({exc})") from None
    chosen = [rule for rule in rules if wanted is None or rule["alert"] == wanted]
    if not chosen:
        names = ", ".join(rule["alert"] for rule in rules) or "none"
        raise TelemetryError(f"{path}: no alerting rule {wanted!r}; the file has {names}")
    rule = chosen[0]
    if not isinstance(rule.get("expr"), str):
        raise TelemetryError(f"{path}: alert {rule['alert']!r} has no 'expr'")
    return str(rule["alert"]), rule["expr"], parse_duration(f"{path}: alert {rule['alert']} for", rule.get("for", "0s"))


def _first_hold(times: np.ndarray, hold: float, step: float) -> float | None:
    """The start of the first unbroken run of samples (one per step) lasting at least `hold` seconds."""
    run_start = None
    for index, moment in enumerate(times):
        if index == 0 or moment - times[index - 1] > step * 1.5:
            run_start = moment
        if moment - run_start >= hold:
            return float(run_start)
    return None


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
