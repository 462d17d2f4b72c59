#!/usr/bin/env bash
# The API against its own OpenAPI document: a release `changelog serve` on 127.0.0.1 with a
# temporary SQLite database, schemathesis (pinned, in a venv under target/) with every check
# and user A's token, bounded in examples and time, then .ci/isolation.py (no object of one
# user is readable or listable by another). The server is stopped however this ends.
#
# Usage: .ci/api-conformance.sh [path to the changelog binary]   (default target/release/changelog)
# Knobs: FUZZ_DATABASE_URL (default a temporary SQLite file; a PostgreSQL URL works too),
# ST_MAX_EXAMPLES (default 40), ST_MAX_TIME seconds (default 240), ST_SEED (default a
# fixed seed, so that CI explores the same cases each run; set it empty for a random one).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/release/changelog}"
venv=target/schemathesis-venv
schemathesis_version=4.32.5

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
"$venv/bin/st" --version

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir -p "$work/repos"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

CHANGELOG_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
CHANGELOG_ENCRYPTION_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
RUST_LOG="${RUST_LOG:-warn}" \
  "$bin" serve --bind "127.0.0.1:$port" --database-url "${FUZZ_DATABASE_URL:-sqlite://$work/api.db?mode=rwc}" \
  --repos-root "$work/repos" --allowed-host clone.invalid \
  > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request as u; u.urlopen('$base/ready', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

# Two users: schemathesis runs as A; the isolation check makes users of its own.
token_a="$(python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1] + "/api/v1"
def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
for name in ("fuzz_a", "fuzz_b"):
    post("/auth/register", {"username": name, "email": f"{name}@example.com",
                            "password": "schemathesis password"})
login = lambda name: post("/auth/login", {"username": name, "password": "schemathesis password"})
print(login("fuzz_a")["access_token"])
PY
)"

seed="${ST_SEED-20261129}"
status=0
"$venv/bin/st" --config-file .ci/schemathesis.toml run "$base/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token_a" \
  --max-examples "${ST_MAX_EXAMPLES:-40}" \
  --max-time "${ST_MAX_TIME:-240}" \
  ${seed:+--seed "$seed"} \
  --report junit --report-dir target/schemathesis-report \
  || status=$?

python3 .ci/isolation.py "$base" || status=$?

if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---"
  tail -n 50 "$work/server.log"
fi
exit "$status"
