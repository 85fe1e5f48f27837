#!/usr/bin/env bash
# The soak of docs/PERFORMANCE.md: the release server on its defaults, offered twice its capacity (open loop at
# RATE requests/s, at most 128 in flight) of mixed RPCs (identify, add + delete, verify, list) for SECONDS, the
# server's memory and file descriptors sampled every minute. Bounded: it stops by itself after SECONDS.
#
#   bench/scripts/soak.sh RATE [SECONDS] [IMAGES_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=$1
secs=${2:-1800}
images=${3:-../shared/testdata/lfw_view1/images}
cargo build --release -q -p faceserve -p faceserve-bench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
./target/release/faceserve serve --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
until curl -sf http://127.0.0.1:9464/metrics >/dev/null; do
    kill -0 $server || { cat "$work/server.log"; exit 1; }
    sleep 0.5
done
timeout $((secs + 300)) ./target/release/faceserve-bench load --images "$images" --rpc mixed --rate "$rate" \
    --concurrency 128 --duration "$secs" --server-pid $server --sample-secs 60
kill -TERM $server; wait $server || true
