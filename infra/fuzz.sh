#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API, with docs/openapi.yaml as the only guide (schemathesis,
# pinned in infra/requirements.txt). Starts the local stack in memory on a free port, mints an
# admin token, and runs every check: no 5xx, every answer as documented, no request the document
# calls valid rejected, none it calls invalid accepted. Exits non-zero on any failure.
#   bash infra/fuzz.sh                 (FUZZ_EXAMPLES=n per operation, FUZZ_SEED=n to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/venv.sh >&2
BIN=${HANDOFF_LOCAL_BIN:-target/debug/handoff-local}
if [ ! -x "$BIN" ]; then cargo build -p handoff-local --locked; fi
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SECRET=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')
LOG=$(mktemp)
HANDOFF_JWT_SECRET=$SECRET "$BIN" --listen "127.0.0.1:$PORT" --in-memory >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=1)" 2>/dev/null \
        || grep -q "Press Ctrl-C" "$LOG"; then break; fi
    sleep 0.1
done
TOKEN=$(HANDOFF_JWT_SECRET=$SECRET "$BIN" token --workspace ws_demo --role admin --sub fuzzer)
.venv/bin/st --config-file infra/schemathesis.toml run docs/openapi.yaml \
    --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all \
    --phases examples,coverage,fuzzing \
    --max-examples "${FUZZ_EXAMPLES:-100}" \
    --seed "${FUZZ_SEED:-20261125}" \
    --generation-database none \
    --no-color
