#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine. Needs the Rust toolchain (rustup)
# and Python 3 with venv; it installs the rest itself: crates from crates.io, moto server,
# cargo-lambda, cfn-lint, schemathesis and selenium (pinned in infra/requirements.txt) into ./.venv,
# and Chromium with its WebDriver from the Debian packages when they are missing. It starts moto
# server on a free loopback port for the tests that use the AWS APIs, and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust with rustup (https://rustup.rs) and run again" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

step "tools (./.venv: moto server, cargo-lambda, cfn-lint)"
bash infra/venv.sh

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lint (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "template.yaml (cfn-lint) and docs/openapi.yaml (openapi-spec-validator)"
.venv/bin/cfn-lint template.yaml
.venv/bin/openapi-spec-validator docs/openapi.yaml

step "AWS emulator (moto server)"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN
eval "$(bash infra/moto.sh)"
trap 'bash infra/moto.sh stop' EXIT
echo "moto server at $AWS_ENDPOINT_URL"

step "tests (domain, adapters, store contract on SQLite and DynamoDB, Lambda handlers on moto, HTTP end to end, command line, template and OpenAPI drift)"
# Tests of timers drive the stack's clock; the HTTP and emulator tests wait on I/O, so many run at once.
RUST_TEST_THREADS="${RUST_TEST_THREADS:-16}" cargo test --workspace --locked

step "schema-driven fuzz of the HTTP API (schemathesis, docs/openapi.yaml as its only guide)"
HANDOFF_LOCAL_BIN=target/debug/handoff-local bash infra/fuzz.sh

step "the web app in a real browser (headless Chromium, installed from Debian when missing): sign in, settings, escalate, the live Inbox, accept, reply, resolve"
HANDOFF_LOCAL_BIN=target/debug/handoff-local bash infra/browser.sh

step "the real Lambda binaries under cargo lambda watch"
bash infra/lambda-smoke.sh

step "all checks passed"
