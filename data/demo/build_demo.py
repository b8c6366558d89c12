"""Rebuild this folder from the Nezha development data: one Train-Ticket case, trimmed.

    python data/demo/build_demo.py ../shared/datasets/rca/nezha tt-2023-01-29-18

Keeps the case's fault entry, the metric rows from 40 minutes before the alert to 6 minutes after, the
minute files of the window and of the minute before the alert, and the day's fault-free reference minute.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METRIC_BEFORE_S, METRIC_AFTER_S = 40 * 60, 6 * 60


def build(source: Path, case_id: str) -> None:
    row = next(r for r in csv.DictReader(open(source / "cases.csv")) if r["case_id"] == case_id)
    date, hour = row["date"], row["fault_list_key"].split("[")[0]
    inject = time.mktime(time.strptime(row["inject_time"], "%Y-%m-%d %H:%M:%S")) - time.timezone
    minute = inject - inject % 60
    day, reference = source / "rca_data" / date, source / "construct_data" / date
    out_day, out_reference = HERE / "rca_data" / date, HERE / "construct_data" / date
    for folder in (HERE / "rca_data", HERE / "construct_data"):
        shutil.rmtree(folder, ignore_errors=True)
    entries = json.loads((day / f"{date}-fault_list.json").read_text())[hour]
    entry = entries[int(row["fault_list_key"].split("[")[1].rstrip("]"))]
    out_day.mkdir(parents=True)
    (out_day / f"{date}-fault_list.json").write_text(json.dumps({hour: [entry]}, indent=1))
    with open(HERE / "cases.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "system", "date", "fault_list_key"])
        writer.writerow([case_id, row["system"], date, f"{hour}[0]"])
    _trim_metrics(day / "metric", out_day / "metric", minute - METRIC_BEFORE_S, minute + METRIC_AFTER_S)
    names = [time.strftime("%H_%M", time.gmtime(minute + 60 * k)) for k in range(3)]
    for kind in ("trace", "log"):
        for name in names:
            _copy(day / kind / f"{name}_{kind}.csv.gz", out_day / kind)
        for path in sorted((reference / kind).glob(f"*_{kind}.csv.gz")):
            _copy(path, out_reference / kind)
    _copy(source / "construct_data" / "root_cause_ts.json", HERE / "construct_data")


def _trim_metrics(source: Path, target: Path, start: float, end: float) -> None:
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.csv")):
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        stamp = rows[0].index("TimeStamp")
        kept = [r for r in rows[1:] if start <= float(r[stamp]) < end]
        with open(target / path.name, "w", newline="") as handle:
            csv.writer(handle).writerows([rows[0], *kept])


def _copy(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / path.name)


if __name__ == "__main__":
    build(Path(sys.argv[1]), sys.argv[2])
