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

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts moto on a free loopback port; sets MOTO_PORT and MOTO_PID.
start_moto() {
  local log="$1"
  MOTO_PORT="$(free_port)"
  # MOTO_ECS_SERVICE_RUNNING: moto reports an ECS rollout COMPLETED only when
  # this many tasks "run"; it must be at least any desired_count used.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ECS_SERVICE_RUNNING=10 nohup "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" > "$log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 - "$MOTO_PORT" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
    sleep 0.2
  done
  echo "moto did not start; see $log" >&2
  return 1
}

# The environment that points the standard AWS chain at the local endpoint.
use_moto_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
