#!/usr/bin/env bash
# Install what the gateway needs on a fresh Debian machine (run as root): Debian packages, a virtualenv
# in .venv, and with --test the test tools, Debian's chromium and the npm packages the client and browser
# tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=()
command -v redis-server >/dev/null || pkgs+=(redis-server)
command -v ffmpeg >/dev/null || pkgs+=(ffmpeg)
command -v curl >/dev/null || pkgs+=(curl)
python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || pkgs+=(python3)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || pkgs+=(python3-venv)
if [ "$want_test" = 1 ]; then
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
  # Debian's Chromium for the browser tests (driven by npm playwright-core; its own browser download
  # cannot work here)
  [ -x /usr/bin/chromium ] || pkgs+=(chromium)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "install: apt-get install ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# pip runs again only when pyproject.toml changed since the last install of this kind
stamp=".venv/.installed-$want_test"
if [ "$want_test" = 0 ] && [ -f .venv/.installed-1 ] && [ ! pyproject.toml -nt .venv/.installed-1 ]; then
  stamp=".venv/.installed-1"   # the test install is a superset
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -U pip
  if [ "$want_test" = 1 ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  else
    .venv/bin/pip install -q --disable-pip-version-check -e .
  fi
  touch "$stamp"
fi
if [ "$want_test" = 1 ]; then
  if [ ! -d tests/js/node_modules ] || [ tests/js/package.json -nt tests/js/node_modules ]; then
    (cd tests/js && npm install --no-audit --no-fund --loglevel=error)
  fi
fi
echo "install: ok"
