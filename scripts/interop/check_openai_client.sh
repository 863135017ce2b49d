#!/usr/bin/env bash
# Interop check of `nanoforge serve` with OpenAI's own Python client (`make interop`, not
# `make test`): starts the server on a free loopback port with a sentence encoder and a decoder,
# then scripts/interop/check_openai_client.py calls every endpoint through the `openai` package
# (models, embeddings float and base64, completions with logprobs and echo, chat completions,
# streaming of both, errors as the client's exception types, the API key), and finally stops the
# server with SIGTERM, which must exit 0.
#
# The client (PyPI openai, pinned below) goes into a git-ignored venv, .cache/tools/openai-venv,
# created on the first run (idempotent). Needs .build/release/nanoforge (make build) and the
# models of scripts/setup.sh.
# Usage: scripts/interop/check_openai_client.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NANOFORGE="$ROOT/.build/release/nanoforge"
VENV="${OPENAI_VENV:-$ROOT/.cache/tools/openai-venv}"
OPENAI_VERSION="${OPENAI_VERSION:-2.8.0}"
ENCODER="$ROOT/.cache/models/all-MiniLM-L6-v2"
DECODER="$ROOT/.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
KEY="interop-key-$$"

[[ -x $NANOFORGE ]] || { echo "check_openai_client: $NANOFORGE is missing: run make build" >&2; exit 2; }
for f in "$ENCODER" "$DECODER"; do
    [[ -e $f ]] || { echo "check_openai_client: $f is missing: run scripts/setup.sh" >&2; exit 2; }
done
if ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
    echo "check_openai_client: installing openai==$OPENAI_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "openai==$OPENAI_VERSION"
fi

LOG="$(mktemp)"
"$NANOFORGE" serve "minilm=$ENCODER" "smollm2=$DECODER" --port 0 --api-key "$KEY" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
URL=""
for _ in $(seq 1 600); do
    URL="$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$LOG" | head -1)"
    [[ -n $URL ]] && break
    kill -0 $PID 2>/dev/null || { echo "check_openai_client: serve exited:" >&2; cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
[[ -n $URL ]] || { echo "check_openai_client: serve printed no 'listening on' line" >&2; cat "$LOG" >&2; exit 1; }
echo "check_openai_client: nanoforge serve at $URL (openai $("$VENV/bin/python" -c 'import openai; print(openai.__version__)'))"

status=0
"$VENV/bin/python" "$ROOT/scripts/interop/check_openai_client.py" "$URL/v1" "$KEY" || status=1
kill -TERM $PID
if wait $PID; then echo "check_openai_client: SIGTERM: serve exited 0"; else echo "check_openai_client: serve exited $? on SIGTERM" >&2; status=1; fi
trap 'rm -f "$LOG"' EXIT
exit $status
