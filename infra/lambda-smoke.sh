#!/usr/bin/env bash
# Smoke test of the local Lambda runs the README shows: starts `cargo lambda watch` through
# infra/lambda-local.sh (against the moto server in AWS_ENDPOINT_URL), then invokes the real
# binaries with the event fixtures and checks their answers.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL:?start moto first: eval \"\$(bash infra/moto.sh)\"}"
PY=.venv/bin/python
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=.venv/lambda-watch.log
HANDOFF_PREFIX="smoke-$PORT" setsid bash infra/lambda-local.sh --invoke-address 127.0.0.1 --invoke-port "$PORT" > "$LOG" 2>&1 &
WATCH=$!
cleanup() { kill -- -"$WATCH" 2>/dev/null || kill "$WATCH" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 600); do
    if $PY -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; then break; fi
    if ! kill -0 "$WATCH" 2>/dev/null; then echo "cargo lambda watch exited:" >&2; cat "$LOG" >&2; exit 1; fi
    sleep 0.5
done
invoke() { .venv/bin/cargo-lambda lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$PORT" --data-file "tests/fixtures/events/$2"; }
check() { # name, python expression over `r` (the parsed answer)
    local out; out=$(cat)
    if $PY -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($2) else 1)" "$out"; then
        echo "  ok: $1"
    else
        echo "  FAILED: $1: $out" >&2; echo "--- cargo lambda watch log:" >&2; tail -40 "$LOG" >&2; exit 1
    fi
}
echo "Invoking the real binaries under cargo lambda watch on port $PORT:"
invoke settings-api apigw-put-settings.json | check "settings-api saves settings" "r['statusCode'] == 200 and json.loads(r['body'])['version'] == 1"
invoke escalation-trigger sqs-escalation.json | check "escalation-trigger takes an SQS escalation" "r['batchItemFailures'] == []"
invoke escalation-trigger sqs-escalation-batch-with-bad-message.json | check "escalation-trigger names only the bad messages" "len(r['batchItemFailures']) == 2"
invoke inbox-api apigw-get-inbox.json | check "inbox-api lists both queued conversations" "r['statusCode'] == 200 and len(json.loads(r['body'])['items']) == 2"
invoke escalation-trigger eventbridge-outbox-sweep.json | check "escalation-trigger runs the outbox sweep" "r['dispatched'] == 0 and r['stuck'] == 0"
invoke stall-notifier sqs-stall-timer.json | check "stall-notifier ignores a timer for an unknown handoff" "r['batchItemFailures'] == []"
invoke voice-timeout sqs-ring-timer.json | check "voice-timeout ignores a timer for an unknown handoff" "r['batchItemFailures'] == []"
