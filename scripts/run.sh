#!/usr/bin/env bash
# The README's run command: install, start a private redis-server (data in var/redis) and the gateway
# with config.yaml (filesystem storage unless the config or UPGW_STORAGE__BACKEND=s3 says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
mkdir -p var/redis var/storage
redis_port="${UPGW_REDIS_PORT:-6390}"
if [ -z "${UPGW_REDIS__URL:-}" ]; then
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$PWD/var/redis" --appendonly yes \
    --save 60 1 --daemonize no --logfile "$PWD/var/redis/redis.log" &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null' EXIT
  export UPGW_REDIS__URL="redis://127.0.0.1:${redis_port}/0"
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
config="${1:-config.yaml}"
echo "run: gateway with $config (Redis at $UPGW_REDIS__URL); Ctrl-C stops it"
.venv/bin/python -m gateway --config "$config"
