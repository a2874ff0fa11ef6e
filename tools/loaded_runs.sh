#!/usr/bin/env bash
# Runs the suite N times in a row (default 5) on a fresh clone of this repository's HEAD, beside
# a CPU-burning process, as issue 15 asks: run 1 is .ci/run (the venv created), the others
# `make test`. One line per run in the log: exit code, seconds, the pytest summaries.
#   tools/loaded_runs.sh [RUNS] [LOG]     (default: 5 runs, /tmp/loaded_runs.log)
set -uo pipefail
RUNS=${1:-5}
LOG=${2:-/tmp/loaded_runs.log}
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /tmp/loaded-runs.XXXXXX)
git clone -q "$REPO" "$DIR/repo"
cd "$DIR/repo" || exit 2
python3 -c 'while 1: pass' &
BUSY=$!
trap 'kill $BUSY 2>/dev/null' EXIT
: > "$LOG"
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s)
  if [ "$i" = 1 ]; then .ci/run > "$LOG.run$i" 2>&1; else make test > "$LOG.run$i" 2>&1; fi
  rc=$?
  echo "run $i rc=$rc $(( $(date +%s) - start )) s" \
    "$(grep -E '[0-9]+ (passed|failed)' "$LOG.run$i" | tr '\n' ' ')" >> "$LOG"
done
echo "clone: $DIR/repo" >> "$LOG"
