#!/usr/bin/env bash
# Runs every check and test of the project. Needs only the Rust toolchain (rustup) and network
# access to crates.io; everything else it installs itself.
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

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lint (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (unit, property, HTTP end-to-end, command line)"
# The end-to-end tests mostly wait for real timers, so many run at once.
RUST_TEST_THREADS="${RUST_TEST_THREADS:-16}" cargo test --workspace --locked

step "all checks passed"
