#!/usr/bin/env bash
# Creates (or updates) the project-local virtual environment ./.venv with the pinned tools of
# infra/requirements.txt: moto server (the AWS emulator), cargo-lambda (with zig) and cfn-lint.
# Prints nothing but progress; safe to run again (it reinstalls only when the pins change).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
REQ=infra/requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "error: $PY not found; install Python 3.9+ (with venv) and run again" >&2
    exit 1
fi
echo "Installing the pinned tools of $REQ into $VENV ..."
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
