#!/usr/bin/env bash
# Runs the README's server session as written: the `sh` blocks of its "## Server" section, in
# order, in one shell, from the root of a scratch clone of this repository, with `changelog` (the
# release build) on the PATH. Then checks that each step answered what the README says.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/changelog}"
scratch="$(mktemp -d)"
cleanup() {
  # The session stops its server itself; this is for a failure halfway.
  pkill -f "$scratch/bin/changelog serve" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch/bin"
cp "$bin" "$scratch/bin/changelog"
git clone -q "$root" "$scratch/project"
python3 - "$root/README.md" > "$scratch/session.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("\n## Server\n", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
assert len(blocks) >= 3, f"expected the server session's blocks, found {len(blocks)}"
print("set -euo pipefail")
for block in blocks:
    print(block)
PY
cd "$scratch/project"
PATH="$scratch/bin:$PATH" timeout 300 bash "$scratch/session.sh" > "$scratch/out.txt" 2> "$scratch/err.txt" || {
  echo "the README's server session failed:"; cat "$scratch/out.txt" "$scratch/err.txt"; exit 1;
}
out="$(cat "$scratch/out.txt")"
expect() {
  if ! grep -qF -- "$1" <<< "$out"; then
    echo "missing from the README session's output: $1 ($2)"; cat "$scratch/out.txt" "$scratch/err.txt"; exit 1
  fi
}
expect '"username":"ada"' "registration"
expect '"code":409' "a stale revision is refused"
expect '"code":403' "a read-only key cannot delete"
expect 'event: attempt' "the job's events stream"
expect 'event: delta' "the model's text arrives as it is written"
expect 'event: completed' "the job stores its changelog"
expect '"status":"succeeded"' "the job's state"
expect '"input_tokens"' "the estimate"
expect '"field":"repo_url"' "a repository outside the root is refused"
echo "the README's server session ran as written ($(grep -c '' "$scratch/out.txt") lines of output)"
