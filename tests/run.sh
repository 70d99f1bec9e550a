#!/usr/bin/env bash
# Set up and run the whole kms-tui test suite on a Debian machine with Python 3.11+.
#
# Installs the Debian packages the tests drive (SoftHSM2, gnome-keyring and D-Bus,
# OpenSSL, OpenSC, tmux), creates .venv with the project and its test extras, then
# runs pytest. The services (a D-Bus session with an unlocked gnome-keyring, the
# moto and OpenBao servers, SoftHSM2 tokens) are started by the test session itself
# on 127.0.0.1 / private temp dirs and stopped when it ends.
# Extra arguments go to pytest (e.g. `bash tests/run.sh -k cli -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(softhsm2 gnome-keyring dbus dbus-bin openssl opensc tmux libsecret-tools libengine-pkcs11-openssl openssh-client gnutls-bin)
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv; then
        # Debian's own python3 ships venv separately.
        rm -rf .venv
        "${sudo_cmd[@]}" apt-get install -y -q python3-venv
        "$PYTHON" -m venv .venv
    fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check .
# Types: strict on engines/, store/ and the service (pyproject.toml [tool.mypy]).
.venv/bin/mypy
# Layers: the import contracts in pyproject.toml [tool.importlinter].
.venv/bin/lint-imports --no-cache

# Byte-code is cached (some machines set PYTHONDONTWRITEBYTECODE): the suite starts hundreds of
# kms-tui processes, and without a cache each compiles every module it imports again.
unset PYTHONDONTWRITEBYTECODE

# pytest exits 5 when it collects no test; that is a failure here too.
set +e
# One worker more than there are cores: many tests wait on a server, a token or a child
# process, and the extra worker keeps the cores busy meanwhile; more workers than that make
# each test slower than they gain once the tests themselves are mostly CPU (on the 2-core
# machine, 2026-12-06: 5 min 57 s with two workers, 4 min 33 s with three, 4 min 57 s with
# four, whose processes took 9 min 2 s of CPU against 7 min 47 s with three). An idle worker
# takes tests queued for a busy one (worksteal), so the run does not end on one worker's queue.
# Every test has its own directories and ports, so tests spread freely over the workers.
.venv/bin/python -m pytest -n "${KMS_TUI_TEST_WORKERS:-$(( $(nproc) + 1 ))}" --dist worksteal "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "tests/run.sh: no tests were collected" >&2
    exit 1
fi
exit "$status"
