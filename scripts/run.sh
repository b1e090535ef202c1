#!/usr/bin/env bash
# The README's run command: install, then run a private redis-server (AOF on, data in var/redis), the
# gateway and a worker with config.yaml (filesystem storage unless the config or UPGW_STORAGE__BACKEND=s3
# says otherwise). Logs of all three go to this terminal. Ctrl-C, or TERM/HUP from a service manager,
# stops all three; so does any one of them exiting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
config="${1:-config.yaml}"
var="${UPGW_VAR_DIR:-var}"
mkdir -p "$var/redis"
pids=()     # the services themselves (not the log prefixers, which end with their input)
cleanup() {
  trap - INT TERM HUP EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP
trap cleanup EXIT

if [ -z "${UPGW_REDIS__URL:-}" ]; then
  redis_port="${UPGW_REDIS_PORT:-6390}"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$(cd "$var/redis" && pwd)" --appendonly yes \
    --save 60 1 --daemonize no > >(sed -u 's/^/[redis]   /') 2>&1 &
  pids+=($!)
  export UPGW_REDIS__URL="redis://127.0.0.1:${redis_port}/0"
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

.venv/bin/python -m gateway --config "$config" > >(sed -u 's/^/[gateway] /') 2>&1 &
gateway=$!
pids+=($gateway)
.venv/bin/python -m workers --config "$config" > >(sed -u 's/^/[worker]  /') 2>&1 &
pids+=($!)

base="$(.venv/bin/python -c 'import sys; from gateway.settings import load_settings; s = load_settings(sys.argv[1]); print(s.server.base_url)' "$config")"
token="$(.venv/bin/python -c 'import sys; from gateway.settings import load_settings; t = load_settings(sys.argv[1]).auth.tokens[0]; print(t.id + ":" + t.secret.get_secret_value())' "$config")"
# the banner once the gateway answers /readyz (it says when Redis or storage are not reachable)
for _ in $(seq 300); do
  kill -0 "$gateway" 2>/dev/null || { echo "upload-gateway: the gateway exited" >&2; exit 1; }
  curl -sf -o /dev/null "$base/readyz" && break
  sleep 0.1
done
cat <<MSG

  upload-gateway is running (Redis at $UPGW_REDIS__URL). Ctrl-C stops everything.
  Uploader page: $base/   (sign in with the token $token)
  Or from a shell:
    curl -s -u '$token' -X POST $base/video/v1/uploads -H 'Content-Type: application/json' \\
         -d '{"cors_origin": "*", "new_asset_settings": {"playback_policies": ["public"]}}'
    curl -T video.mp4 "<the url from the answer>"
    curl -s -u '$token' $base/video/v1/assets

MSG
# wait returns early when a trapped signal arrives, so the traps run at once
wait -n "${pids[@]}" || true
