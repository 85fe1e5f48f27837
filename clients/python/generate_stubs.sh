#!/usr/bin/env bash
# Generates the Python stubs of faceserve.v1 from the repository's .proto files into ./faceserve_stubs (not
# committed: they always match the server they were generated from). Needs grpcio-tools (requirements.txt).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$here/../../proto"
out="${1:-$here/faceserve_stubs}"
mkdir -p "$out"
python -m grpc_tools.protoc -I "$proto" --python_out="$out" --grpc_python_out="$out" \
  "$proto"/faceserve/v1/*.proto
echo "$out"
