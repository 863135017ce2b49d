#!/usr/bin/env bash
# Interop check of nanoforge's GGUF encoders against llama.cpp (`make interop`, not `make test`):
# SmolLM2-135M-Instruct (set-up's Q4_1 GGUF) is re-encoded to each TYPE twice, by
# `nanoforge export --format gguf --gguf-type TYPE` and by llama.cpp's own
# `llama-quantize --allow-requantize --pure` (round to nearest, no imatrix: both start from the
# same dequantized Float32 weights). The two files' tensors must be byte-identical, and
# `llama-perplexity` must load nanoforge's file and give the same perplexity as llama.cpp's.
#
# Needs: scripts/interop/build_llama_cpp.sh run (make interop does), a release build of nanoforge
# (.build/release/nanoforge), .venv-bench (gguf, numpy) and the model in .cache/models.
# Env: TYPES (default "Q8_0 Q4_0"), CHUNKS (perplexity chunks of 256 tokens, default 8).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${LLAMA_CPP_DIR:-$ROOT/.cache/tools/llama.cpp}/bin"
NANOFORGE="$ROOT/.build/release/nanoforge"
PY="$ROOT/.venv-bench/bin/python"
MODEL="$ROOT/.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT_SOURCE="$ROOT/.cache/data/pydoc-topics.txt"
OUT="${INTEROP_OUT:-$ROOT/out/interop}"
TYPES="${TYPES:-Q8_0 Q4_0}"
CHUNKS="${CHUNKS:-8}"

for f in "$TOOLS/llama-quantize" "$TOOLS/llama-perplexity" "$NANOFORGE" "$PY" "$MODEL" "$TEXT_SOURCE"; do
    [[ -e "$f" ]] || { echo "interop: missing $f (run make interop / make build / make setup)" >&2; exit 2; }
done
mkdir -p "$OUT"
head -c 200000 "$TEXT_SOURCE" > "$OUT/text.txt"

perplexity() {   # prints the final estimate of llama-perplexity on $1
    "$TOOLS/llama-perplexity" -m "$1" -f "$OUT/text.txt" -c 256 --chunks "$CHUNKS" -t 2 2> "$1.ppl.log" >/dev/null || {
        echo "interop: llama-perplexity failed on $1 (log: $1.ppl.log)" >&2; tail -5 "$1.ppl.log" >&2; return 1; }
    grep -o 'Final estimate: PPL = [0-9.]*' "$1.ppl.log" | awk '{print $NF}'
}

status=0
for type in $TYPES; do
    lower="$(echo "$type" | tr 'A-Z' 'a-z')"
    ours="$OUT/smollm2-nanoforge-$lower.gguf"
    theirs="$OUT/smollm2-llama-quantize-$lower.gguf"
    "$NANOFORGE" export "$MODEL" --format gguf --gguf-type "$lower" --output "$ours" >/dev/null
    "$TOOLS/llama-quantize" --allow-requantize --pure "$MODEL" "$theirs" "$type" 2 > "$theirs.log" 2>&1 || {
        echo "interop: llama-quantize failed (log: $theirs.log)" >&2; exit 1; }
    echo "== $type: tensors of nanoforge's file vs llama-quantize's"
    "$PY" "$ROOT/scripts/interop/compare_gguf_tensors.py" "$ours" "$theirs" || status=1
    ppl_ours="$(perplexity "$ours")"; ppl_theirs="$(perplexity "$theirs")"
    echo "== $type: perplexity (c=256, $CHUNKS chunks) nanoforge $ppl_ours, llama-quantize $ppl_theirs"
    [[ -n "$ppl_ours" && "$ppl_ours" == "$ppl_theirs" ]] || { echo "interop: $type perplexities differ" >&2; status=1; }
done
exit $status
