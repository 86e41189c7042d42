# Shared by the scripts: the repository root, the cargo target dir, and the
# local AWS endpoint (moto's server, pinned, in a gitignored venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
MOTO_SERVER="$VENV/bin/moto_server"
# Reuse a target dir outside the clone when the machine has one: a cold build
# of the AWS SDK crates takes minutes.
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d "$HOME/.cache/deployctl/target" ]; then
  export CARGO_TARGET_DIR="$HOME/.cache/deployctl/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Installs moto[server] at the pinned version into .venv, once per change of
# scripts/requirements-moto.txt.
bootstrap_moto() {
  local req="$ROOT/scripts/requirements-moto.txt"
  local stamp="$VENV/.requirements.sha256"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -x "$MOTO_SERVER" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "installing the local AWS endpoint (moto) into .venv …" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}

# The local AWS endpoint's runtime files: its environment (env), its log,
# the process group to stop, and the state dir for local-state stacks.
LOCAL_AWS_DIR="$ROOT/.local-aws"

# Whether the endpoint of $LOCAL_AWS_DIR is up and answering.
local_aws_running() {
  [ -f "$LOCAL_AWS_DIR/env" ] && [ -f "$LOCAL_AWS_DIR/pid" ] || return 1
  kill -0 "$(cat "$LOCAL_AWS_DIR/pid")" 2>/dev/null || return 1
  local url
  url="$(sed -n 's/^export AWS_ENDPOINT_URL=//p' "$LOCAL_AWS_DIR/env")"
  python3 - "$url" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=2)
PY
}

# Starts the endpoint unless it is running: moto behind the protocol front,
# in a process group of its own (so that stop ends both). Idempotent.
local_aws_start() {
  if local_aws_running; then
    echo "the local AWS endpoint is already running" >&2
    return 0
  fi
  local_aws_stop >/dev/null 2>&1 || true
  bootstrap_moto
  echo "building the local AWS endpoint's front …" >&2
  (cd "$ROOT" && cargo build --quiet -p deployctl-localaws --bin deployctl-local-aws) >&2
  mkdir -p "$LOCAL_AWS_DIR"
  rm -rf "$LOCAL_AWS_DIR/state" "$LOCAL_AWS_DIR/env"
  mkdir -p "$LOCAL_AWS_DIR/state"
  DEPLOYCTL_MOTO_SERVER="$MOTO_SERVER" setsid "$TARGET_DIR/debug/deployctl-local-aws" serve \
    --env-file "$LOCAL_AWS_DIR/env" --state-dir "$LOCAL_AWS_DIR/state" \
    < /dev/null > "$LOCAL_AWS_DIR/log" 2>&1 &
  echo $! > "$LOCAL_AWS_DIR/pid"
  for _ in $(seq 1 300); do
    [ -f "$LOCAL_AWS_DIR/env" ] && { echo "local AWS endpoint started; log: $LOCAL_AWS_DIR/log" >&2; return 0; }
    kill -0 "$(cat "$LOCAL_AWS_DIR/pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "the local AWS endpoint did not start; its log ($LOCAL_AWS_DIR/log):" >&2
  cat "$LOCAL_AWS_DIR/log" >&2
  return 1
}

# Stops the endpoint (moto and the front: the whole process group).
local_aws_stop() {
  if [ -f "$LOCAL_AWS_DIR/pid" ]; then
    local pid
    pid="$(cat "$LOCAL_AWS_DIR/pid")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    rm -f "$LOCAL_AWS_DIR/pid" "$LOCAL_AWS_DIR/env"
    echo "local AWS endpoint stopped" >&2
  else
    echo "the local AWS endpoint is not running" >&2
  fi
}
