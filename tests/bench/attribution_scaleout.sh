#!/usr/bin/env bash
# eval attribution serial vs --workers 2 vs --dask-scheduler (a 2-worker LocalCluster), each with a COLD cache
# (empty RCA_TUI_CACHE: GGUF conversion + every SLM forward pass). Prints wall clock; writes the JSON reports.
# usage: tests/bench/attribution_scaleout.sh DATA SUBSET OUTDIR   (PYTHON=... to pick the interpreter)
set -euo pipefail
DATA=$1; SUBSET=$2; OUT=$3; PY=${PYTHON:-python}
mkdir -p "$OUT"
run() {  # name, extra options
  local name=$1; shift
  local start=$(date +%s.%N)
  $PY -m rca_tui eval attribution --data "$DATA" --subset "$SUBSET" --json "$@" > "$OUT/$name.json" 2> "$OUT/$name.err"
  echo "$name $(echo "$(date +%s.%N) - $start" | bc) s"
}
RCA_TUI_CACHE=$(mktemp -d) run serial
RCA_TUI_CACHE=$(mktemp -d) run workers2 --workers 2
export RCA_TUI_CACHE=$(mktemp -d)  # the cluster's workers read it when they start
$PY -c "
import sys, time
from distributed import LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
    open(sys.argv[1], 'w').write(c.scheduler_address); time.sleep(86400)" "$OUT/scheduler" &
CLUSTER=$!
while [ ! -s "$OUT/scheduler" ]; do sleep 1; done
run dask --dask-scheduler "$(cat "$OUT/scheduler")"
kill $CLUSTER
$PY - "$OUT" <<'PY'
import json, sys
reports = {n: json.load(open(f"{sys.argv[1]}/{n}.json")) for n in ("serial", "workers2", "dask")}
strip = lambda r: {k: v for k, v in r.items() if k not in ("timing", "scale_out")}
print("identical figures:", strip(reports["serial"]) == strip(reports["workers2"]) == strip(reports["dask"]))
for n, r in reports.items():
    print(n, "feature_seconds_total", r["timing"]["feature_seconds_total"], "evaluation_seconds_total", r["timing"]["evaluation_seconds_total"])
PY
