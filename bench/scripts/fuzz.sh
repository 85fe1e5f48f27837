#!/usr/bin/env bash
# The fuzz run of docs/RELIABILITY.md: every fuzz target with FACESERVE_FUZZ_EXECS executions (stable Rust; the
# mutation engine is faceserve_testkit::fuzz). Each target prints one `fuzz target=... executions=... panics=...
# hangs=... peak_rss_mib=...` line; a panic or hang fails its test.
#
#   bench/scripts/fuzz.sh [SCALE]   (SCALE multiplies the executions; 1 gives about 10.5 million in all)
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-1}
crashes=$(mktemp -d)
run() {
    local execs=$(($1 * scale)); shift
    FACESERVE_FUZZ_EXECS=$execs FACESERVE_FUZZ_CRASHES=$crashes cargo test -q "$@" -- --nocapture --test-threads 1 2>&1 \
        | grep -E '^fuzz target=|panicked|FAILED' || true
}
run 3000000 -p faceserve-index page_token::tests::fuzzed
run 1000000 -p faceserve-vision --test fuzz_decode raw_frames
run 200000 -p faceserve-vision --test fuzz_decode mutated_photos
run 2000000 -p faceserve --bin faceserve fuzz_tests::fuzzed_template_bytes
run 2000000 -p faceserve --bin faceserve fuzz_tests::fuzzed_protobuf
run 1200000 -p faceserve --bin faceserve fuzz_tests::fuzzed_multipart
run 1200000 -p faceserve --bin faceserve fuzz_tests::fuzzed_image_api
ls "$crashes"
