#!/usr/bin/env bash
# The README's test command: install everything, lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
echo "== ruff";  .venv/bin/ruff check .
echo "== mypy";  .venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then echo "pytest collected no tests"; exit 1; fi
if [ "$status" = 0 ] && [ "$#" = 0 ]; then
  # The upload path and the worker again, with the gateway's state in a 3-primary Redis Cluster
  # (the job queue on a plain Redis, as jobs.redis_url must be with a cluster).
  echo "== pytest on a Redis Cluster"
  UPGW_TEST_REDIS=cluster .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/integration/test_tus_protocol.py tests/integration/test_resumable_put.py \
    tests/integration/test_rufh.py tests/integration/test_mux_api.py tests/e2e_direct tests/e2e/test_worker.py
  status=$?
fi
exit "$status"
