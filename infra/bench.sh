#!/usr/bin/env bash
# Measures Human Handoff and writes the figures into docs/BENCHMARKS.md:
#   1. AWS calls per operation (against moto server, counted by an SDK interceptor);
#   2. the local stack: timer lateness, HTTP latency, and throughput as the store fills;
#   3. the Lambda functions: start-up time against a hello-world lambda_runtime function built
#      with the same profile, and the size of each arm64 bootstrap.zip.
# Figures are medians from one run of this script on this machine (the throughput figures: medians
# of three runs); it is shared and noisy, so compare ratios and runs made the same way rather than
# absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
FUNCS=(settings-api escalation-trigger stall-notifier voice-timeout inbox-api)

echo "==> AWS calls per operation (moto server)" >&2
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
eval "$(bash infra/moto.sh)"
trap 'bash infra/moto.sh stop' EXIT
CALLS="| operation (warm container) | AWS calls | in sequence, before the response | calls after the response | before the response, in the order they finished | after the response, operations |
|---|---|---|---|---|---|
$(cargo test -q -p handoff-tests --test aws_calls -- --nocapture --test-threads 1 2>/dev/null | grep -o 'CALLS |.*' | sed 's/^CALLS //')"
echo "$CALLS"

echo "==> DynamoDB write units of a chat life (moto server)" >&2
LIFE_OUT=$(cargo test -q -p handoff-tests --test write_units -- --nocapture --test-threads 1 2>/dev/null)
UNITS="| step of a chat life | table | indexes | of the table's: failed conditions | write units |
|---|---|---|---|---|
$(echo "$LIFE_OUT" | grep -o 'UNITS |.*' | sed 's/^UNITS //')"
echo "$UNITS"
SPREAD="| key family (index key, or table key) | shards | units per life | busiest shard at 10,000 lives/s (units/s) | lives/s before it reaches 1,000 units/s |
|---|---|---|---|---|
$(echo "$LIFE_OUT" | grep -o 'SCALE |.*' | sed 's/^SCALE //')"
echo "$SPREAD"

echo "==> local stack: timers and HTTP latency" >&2
LOCAL=$(cargo bench -q -p handoff-tests --bench local_stack 2>/dev/null | grep '^|')
echo "$LOCAL"
echo "==> local stack: throughput as it fills" >&2
LOAD=$(cargo bench -q -p handoff-tests --bench local_load 2>/dev/null | grep '^|')
echo "$LOAD"

echo "==> start-up time (x86-64 release builds, each function built on its own)" >&2
mkdir -p target/bench-bin
for f in hello-lambda "${FUNCS[@]}"; do
    # One package per build, so each binary links only the features its crate asks for; built
    # position-dependent, as .cargo/config.toml builds the arm64 functions (an explicit --target
    # keeps the flag off build scripts and proc-macros).
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C relocation-model=static" \
        cargo build -q --release --target x86_64-unknown-linux-gnu -p "$f" >&2
    cp "target/x86_64-unknown-linux-gnu/release/$f" "target/bench-bin/$f"
done
ENV_FOR_INIT=(HANDOFF_TABLE=t OUTBOUND_QUEUE_URL=http://q/out STALL_TIMER_QUEUE_URL=http://q/stall
    STALL_TIMER_QUEUE_ARN=arn:aws:sqs:us-east-1:1:stall RING_TIMER_QUEUE_URL=http://q/ring
    RING_TIMER_QUEUE_ARN=arn:aws:sqs:us-east-1:1:ring SCHEDULE_GROUP=g SCHEDULER_ROLE_ARN=arn:aws:iam::1:role/s)
ARGS=()
for f in hello-lambda "${FUNCS[@]}"; do ARGS+=("$f=target/bench-bin/$f"); done
INIT_JSON=$(env "${ENV_FOR_INIT[@]}" AWS_ENDPOINT_URL= .venv/bin/python infra/init_time.py 100 "${ARGS[@]}")
echo "$INIT_JSON"

echo "==> Lambda release builds (arm64, zipped)" >&2
for f in "${FUNCS[@]}"; do
    cargo lambda build -q --release --arm64 --output-format zip -p "$f" >&2
done
TABLE=$(INIT_JSON="$INIT_JSON" .venv/bin/python - "${FUNCS[@]}" <<'PY'
import json, os, sys, zipfile
init = json.loads(os.environ["INIT_JSON"])
hello = init["hello-lambda"]
print("| function | start-up, median (ms) | × hello-world | bootstrap.zip (arm64) | bootstrap, unzipped | x86-64 binary |")
print("|---|---|---|---|---|---|")
print(f"| hello-world (reference) | {hello:.2f} | 1.00 | | | {os.path.getsize('target/bench-bin/hello-lambda') / 2**20:.1f} MiB |")
for f in sys.argv[1:]:
    z = f"target/lambda/{f}/bootstrap.zip"
    raw = zipfile.ZipFile(z).getinfo("bootstrap").file_size
    print(f"| {f} | {init[f]:.2f} | {init[f] / hello:.2f} | {os.path.getsize(z) / 2**20:.2f} MiB | {raw / 2**20:.1f} MiB | {os.path.getsize('target/bench-bin/' + f) / 2**20:.1f} MiB |")
PY
)
echo "$TABLE"

cat > docs/BENCHMARKS.md <<DOC
# Benchmarks

Measured with \`bash infra/bench.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(rustc --version | cut -d' ' -f1-2).
One run of this script (the throughput figures: medians of three); the machine is shared and noisy,
so read the medians and ratios, and compare runs made the same way.

## AWS calls per operation

\`cargo test -p handoff-tests --test aws_calls -- --nocapture\`: the real handlers (the Lambda edge of
each function, with the fixture events) against moto server, each function in a container of its own
(its own \`App\`, as in AWS). Every AWS request is counted by an SDK interceptor on every client
(\`tests/src/calls.rs\`); "in sequence" is the longest chain of requests each of which started after
the previous one had finished, up to the response: the round trips the caller waits for. A Lambda
container writes its acknowledgement of what it sent after an HTTP response has gone and before it
asks for its next event (\`App::acknowledge_held\`; docs/ARCHITECTURE.md, "Fewer round trips"): those
calls are counted apart, and are billed but not waited for. An SQS message writes its own as soon
as it is done, before the batch's answer. The test asserts the goals (calls in
all, and in sequence before the response), so a regression fails CI.

$CALLS

"Warm" means the container has served this workspace before: it remembers the settings it last
read, and each escalation's transaction checks their version (see docs/ARCHITECTURE.md). An accept
in a container that has not read the handoff before reads it first (3 in sequence before the
answer: the read, with the workspace's layout beside it the first time, the conditional write, the
send; then its acknowledgement); after the agent opened it (GET, or the Inbox page, served by the
same function) the read is saved: an accept from the Inbox page commits against the page's copy,
taken as caught up on the events sent (a wrong guess fails the write's check and reads). The read
cannot be replaced by a condition: what an accept writes (the customer's event, the figures, the
timeline) depends on the handoff.

Reads of an index (the Inbox, a team's queue, the changes feed, the figures) read one \`Query\` per
shard of the workspace's layout: 1 for this new, quiet workspace. A container reads the layout
itself first (one \`Query\`), then again at most once a minute ("first in a container"); an
escalation reads it with its settings, and a command's first write in a container beside the
handoff (docs/ARCHITECTURE.md, "DynamoDB key design").

The conversation (spec §10): a customer message is one conditional write in the container that
escalated (it knows the conversation's handoff); a container that never saw the conversation reads
its lock and the handoff first (3). A transcript page is one \`Query\` whatever the transcript's length
(\`tests/src/contract.rs\`, \`a_long_transcript_reads_like_a_short_one\`, reads 10 and 10,000 lines
alike on SQLite and on DynamoDB); the assignee's first read also clears the unread mark (one write).
A reply is the write and the \`agent_message\` send, then its acknowledgement; a repeated
\`client_message_id\` is one failed conditional write and sends nothing.

## DynamoDB write units of a chat life

\`cargo test -p handoff-tests --test write_units -- --nocapture\`: the typical chat life of spec §15
(escalate with its confirmation, one stall notice, the agent opening the handoff and its
transcript, accept, 6 customer messages and 6 replies, a note, the agent opening both again,
resolve), each step through the real handlers in containers of their own (the AI runtime's, the
agents', the timers'), against moto. Write units are counted from the requests themselves
(\`tests/src/calls.rs\` keeps each write's input) and the table before and after each step, by
DynamoDB's published sizing rules (\`tests/src/write_units.rs\`: attribute names and values, 1 KB
units, transactional writes twice, condition checks included, failed conditional writes charged,
each index entry a change reaches by its projection, a moved index key a delete and a put). The
test holds the whole life at its measured cost so it cannot creep back; spec §15's goal is 200.

$UNITS

The same life's units by key family, and a simulation of one workspace's whole lives spread over
those keys by the store's own shard function (\`shard_for\`) on new ids: each family's busiest
shard at 10,000 lives a second, and the rate at which it reaches one partition's 1,000 write
units a second (docs/SCALE.md, "Whole lives", reads this table; the test holds the workspace's
rate from falling).

$SPREAD

## Local stack: timers and HTTP

\`cargo bench -p handoff-tests --bench local_stack\`: a local stack (SQLite on disk) on a free port;
200 chat escalations over HTTP (half accepted at once), 50 voice escalations; stalling time 10 s,
ring timeout 5 s. "Acted after due time" is, from each handoff's timeline, the time the timer's
transition was recorded minus the timer's due time (the goal: within 1 second).

$LOCAL

## Local stack: throughput as the store fills

\`cargo bench -p handoff-tests --bench local_load\`: 32 HTTP clients post new-chat escalations for
5 s, on an empty store and again after 100,000 more escalations (written through the use case,
in-process); three runs, each on a fresh stack, and the median of each figure (the ratio is the
median of the runs' ratios). On disk the database is in WAL mode with \`synchronous = FULL\`;
requests are committed in groups (one flush per group, each request answered only after its group
is durable).

$LOAD

## Lambda functions: start-up time and size

Start-up is the time from starting the process to its first poll of the Lambda Runtime API (the
moment it is ready for an event, with its AWS clients built), measured by \`infra/init_time.py\`
(a stand-in Runtime API on loopback; 100 starts of each binary, interleaved; medians). Every binary
is an x86-64 release build of its own package (\`cargo build --release --target x86_64-unknown-linux-gnu
-p <function>\`), so it links only what its crate asks for, and position-dependent
(\`-C relocation-model=static\`), as .cargo/config.toml builds the arm64 functions: the loader has
no relative relocations to apply at start (a PIE function has about 17,000, and dirties the pages
they touch). The reference is \`infra/hello-lambda\`, a hello-world \`lambda_runtime\` function with the
runtime's own logging set-up (JSON, as Lambda configures it), built the same way in the same run.
Past what every Rust function pays, a function's start goes mostly to building its AWS clients:
each SDK client reads its service's endpoint rules (a JSON document of partitions and their region
patterns, with their regular expressions) when it is built, so settings-api (DynamoDB) starts
fastest, and escalation-trigger and stall-notifier (DynamoDB, SQS, EventBridge Scheduler) slowest.
The HTTPS client trusts the five Amazon Trust Services roots, compiled in as PEM, rather than
choosing them out of Mozilla's 150 at each start. The functions log through
\`tracing-subscriber\`'s \`Targets\` filter rather than the runtime's default \`EnvFilter\`, which
would link a regular-expression engine into each of them (about 150 KB of each zip).
Sizes: \`cargo lambda build --release --arm64 --output-format zip -p <function>\`. Release profile:
\`opt-level = "z"\`, \`lto = "fat"\`, \`codegen-units = 1\`, \`strip = "symbols"\`, \`panic = "unwind"\`
(so a panic is that invocation's error, not the end of the runtime).

$TABLE
DOC
echo "wrote docs/BENCHMARKS.md" >&2
