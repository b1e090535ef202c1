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

compose_v2() {   # Compose v2 answers `version --short` with 2.x (Debian) or v2.x (upstream)
  { docker compose version --short 2>/dev/null || docker-compose version --short 2>/dev/null; } | grep -qE '^v?2\.'
}
if [ "$want_test" = 1 ] && ! compose_v2; then
  # `docker compose config` for tests/deploy (decisions.md 71): Debian 12's docker-compose is v1, so take
  # Debian 13's v2 package (a static Go binary, needing only libc6 >= 2.34) through a throwaway apt source
  # list and state (on the mirror the machine's own Debian source uses), leaving the machine's sources
  # alone; dpkg puts the binary in docker's cli-plugins folder.
  echo "install: docker-compose (Compose v2) from Debian trixie"
  mirror=$(. /etc/os-release && apt-get indextargets --format '$(REPO_URI) $(RELEASE)' \
           | awk -v suite="$VERSION_CODENAME" '$2 == suite && !m {m = $1} END {print m}')
  [ -n "$mirror" ] || { echo "install: no Debian source for this release in apt's sources" >&2; exit 1; }
  apt_tmp=$(mktemp -d)
  mkdir -p "$apt_tmp/sources" "$apt_tmp/lists/partial" "$apt_tmp/cache/archives/partial" "$apt_tmp/deb"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: %s\n' "$mirror" \
    /usr/share/keyrings/debian-archive-keyring.gpg > "$apt_tmp/sources/trixie.sources"
  apt_opts=(-qq -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_tmp/sources"
            -o "Dir::State::Lists=$apt_tmp/lists" -o "Dir::Cache=$apt_tmp/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update
  (cd "$apt_tmp/deb" && apt-get "${apt_opts[@]}" download docker-compose)
  dpkg -i "$apt_tmp"/deb/docker-compose_*.deb >/dev/null
  rm -rf "$apt_tmp"
  compose_v2 || { echo "install: docker-compose from Debian trixie does not answer as Compose v2" >&2; exit 1; }
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
