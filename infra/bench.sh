#!/usr/bin/env bash
# Measures Human Handoff and writes the figures into docs/BENCHMARKS.md:
#   1. the local stack: timer lateness and HTTP latency (cargo bench -p handoff-tests --bench local_stack);
#   2. the Lambda release builds: each function's zipped size (cargo lambda build --release --arm64).
# Figures are medians and percentiles of one run on this machine; it is shared and noisy, so
# compare runs made the same way rather than absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true

echo "==> local stack" >&2
LOCAL=$(cargo bench -q -p handoff-tests --bench local_stack 2>/dev/null | grep '^|')
echo "$LOCAL"

echo "==> Lambda release builds (arm64, zipped)" >&2
FUNCS=(settings-api escalation-trigger stall-notifier voice-timeout inbox-api)
ARGS=()
for f in "${FUNCS[@]}"; do ARGS+=(--bin "$f"); done
cargo lambda build --release --arm64 --output-format zip "${ARGS[@]}" >&2
SIZES="| function | bootstrap.zip | bootstrap (unzipped) |
|---|---|---|"
for f in "${FUNCS[@]}"; do
    zip="target/lambda/$f/bootstrap.zip"
    raw=$(unzip -l "$zip" | awk 'NR>3 && $4=="bootstrap" {print $1}')
    SIZES="$SIZES
| $f | $(( $(stat -c %s "$zip") / 1024 )) KiB | $(( raw / 1024 )) KiB |"
done
echo "$SIZES"

cat > docs/BENCHMARKS.md <<DOC
# Benchmarks

Measured with \`bash infra/bench.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(rustc --version | cut -d' ' -f1-2).
One run; the machine is shared and noisy, so read the medians and compare runs made the same way.

## Local stack: timers and HTTP

\`cargo bench -p handoff-tests --bench local_stack\`: a local stack (SQLite on disk) on a free port;
200 chat escalations over HTTP (half accepted at once), 50 voice escalations; stalling time 10 s,
ring timeout 5 s. "Acted after due time" is, from each handoff's timeline, the time the timer's
transition was recorded minus the timer's due time (the goal: within 1 second).

$LOCAL

## Lambda release builds

\`cargo lambda build --release --arm64 --output-format zip --bin <function>\` (what the template's
\`rust-cargolambda\` build method runs), with the release profile of the root \`Cargo.toml\`:
\`opt-level = 3\`, \`lto = "thin"\`, \`codegen-units = 1\`, \`strip = "symbols"\`. Smaller zips load
faster on a cold start; full optimisation keeps the handlers fast. \`panic = "unwind"\` is kept so a
panic in one invocation is reported as that invocation's error instead of killing the runtime.

$SIZES
DOC
echo "wrote docs/BENCHMARKS.md" >&2
