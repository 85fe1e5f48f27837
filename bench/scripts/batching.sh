#!/usr/bin/env bash
# The batching table of docs/PERFORMANCE.md: the release server with dynamic batching on (defaults) and off
# (max batch 1 for both models), `faceserve-bench load` at concurrency 1, 8, 32 for identify, add and detect,
# then the in-process ceiling. Prints each run's last key=value line, prefixed by the mode.
#
#   bench/scripts/batching.sh [IMAGES_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
images=${1:-../shared/testdata/lfw_view1/images}
secs=${2:-15}
cargo build --release -q -p faceserve -p faceserve-bench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

run_mode() {
    local mode=$1; shift
    rm -rf "$work/data"
    ./target/release/faceserve serve --data-dir "$work/data" "$@" >"$work/$mode.log" 2>&1 &
    server=$!
    until curl -sf http://127.0.0.1:9464/metrics >/dev/null; do
        kill -0 $server || { cat "$work/$mode.log"; exit 1; }
        sleep 0.5
    done
    for rpc in identify add detect; do
        for conc in 1 8 32; do
            line=$(./target/release/faceserve-bench load --images "$images" --rpc $rpc \
                --concurrency $conc --duration "$secs" | tail -n 1)
            echo "mode=$mode $line"
        done
    done
    kill -TERM $server; wait $server || true
}

run_mode batched
run_mode batch1 --detector-max-batch 1 --recognizer-max-batch 1
for rpc in identify detect; do
    echo "mode=ceiling $(./target/release/faceserve-bench ceiling --images "$images" --rpc $rpc --duration "$secs" | tail -n 1)"
done
