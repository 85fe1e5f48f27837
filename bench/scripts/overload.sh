#!/usr/bin/env bash
# The overload table of docs/PERFORMANCE.md: the release server with each queue-time budget (0 = none, only the
# 256-place queue), `faceserve-bench load --rpc identify` with 64 closed-loop clients, the server's memory sampled;
# then the in-process ceiling. Prints each run's last key=value line, prefixed by the budget.
#
#   bench/scripts/overload.sh [IMAGES_DIR] [SECONDS] [BUDGETS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
images=${1:-../shared/testdata/lfw_view1/images}
secs=${2:-30}
shift 2 || true
budgets=${*:-0 250 500 1000 2000}
cargo build --release -q -p faceserve -p faceserve-bench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

for budget in $budgets; do
    rm -rf "$work/data"
    ./target/release/faceserve serve --data-dir "$work/data" --detector-max-queue-ms "$budget" \
        --recognizer-max-queue-ms "$budget" >"$work/$budget.log" 2>&1 &
    server=$!
    until curl -sf http://127.0.0.1:9464/metrics >/dev/null; do
        kill -0 $server || { cat "$work/$budget.log"; exit 1; }
        sleep 0.5
    done
    line=$(./target/release/faceserve-bench load --images "$images" --rpc identify --concurrency 64 \
        --duration "$secs" --server-pid $server --sample-secs 5 | tail -n 1)
    echo "budget_ms=$budget $line"
    kill -TERM $server; wait $server || true
done
echo "mode=ceiling $(./target/release/faceserve-bench ceiling --images "$images" --rpc identify --duration 15 | tail -n 1)"
