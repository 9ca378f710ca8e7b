#!/usr/bin/env bash
# Runs the five real Lambda binaries on this machine with `cargo lambda watch`, against moto
# server (started here unless AWS_ENDPOINT_URL is already set), after creating the table, queues
# and schedule group they expect. Then, from another shell:
#     .venv/bin/cargo-lambda lambda invoke settings-api --data-file tests/fixtures/events/apigw-get-settings.json
# Extra arguments go to `cargo lambda watch` (for example --invoke-port 9001).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    eval "$(bash infra/moto.sh)"
    trap 'bash infra/moto.sh stop' EXIT
fi
ENV_FILE=.venv/lambda.env
cargo run -q -p handoff-aws-local -- "${HANDOFF_PREFIX:-handoff-local}" > "$ENV_FILE"
{
    echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    echo "AWS_REGION=$AWS_REGION"
    echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
    echo "RUST_LOG=${RUST_LOG:-info}"
} >> "$ENV_FILE"
echo "Resources created on $AWS_ENDPOINT_URL; the functions' environment is in $ENV_FILE:"
sed 's/^/    /' "$ENV_FILE"
cargo lambda watch --env-file "$ENV_FILE" "$@"
