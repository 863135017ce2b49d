#!/usr/bin/env bash
# Interop check of GGUF export of ggml codes (`make interop`, not `make test`):
# 1. the GGUFInteropFolders test writes output folders whose layers hold ggml codes of mixed types
#    (a tiny random Llama: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q6_K; SmolLM2-135M when
#    set-up's GGUF is present: Q4_0 attention, Q4_K ffn_down, Q8_0 tied embedding, no codes on gate/up);
# 2. `nanoforge export FOLDER --format gguf` writes each (matrices without codes: the tiny one's in
#    the default Q8_0, SmolLM2's in F32), with `--gguf-reference` what nanoforge decodes each tensor to (for codes: the weights
#    it evaluates); check_gguf_dequant.py requires gguf-py's dequantization of every tensor to
#    equal it bit for bit (SmolLM2: and the tokenizer keys to equal the source file's);
# 3. llama.cpp's `llama-perplexity` and `nanoforge eval --task perplexity --llama-cpp-arithmetic`
#    (of the file and of the folder) score each model on the same text and context (same chunking,
#    LanguageModelChunks); SmolLM2's must agree within 0.5 %.
#
# Needs: llama.cpp's tools (scripts/interop/build_llama_cpp.sh), a release build with tests
# (`swift build -c release -Xswiftc -enable-testing --build-tests`, done here incrementally) and .venv-bench (gguf).
# Env: CONTEXT (default 256), TEXT_BYTES (bytes of pydoc-topics.txt scored, default 40000),
# SMOLLM2_REST_TYPE (--gguf-type of SmolLM2's matrices without codes, default f32), PPL_TOLERANCE
# (relative, default 0.005; measured 0.0058 on 37 chunks, see docs/formats.md).
#
# Why --llama-cpp-arithmetic: llama.cpp's CPU kernels quantize the activations that meet quantized
# weights (Q8_0 for Q4_0/Q8_0, Q8_K for the K-quants) and round them to F16 for F16 weights, so
# llama-perplexity and nanoforge with Float32 activations disagree by more the more tensors are
# quantized, even on files llama-quantize writes byte for byte alike (docs/formats.md, "GGUF export
# of ggml codes: interop"); the flag applies the same rounding in nanoforge's evaluation.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${LLAMA_CPP_DIR:-$ROOT/.cache/tools/llama.cpp}/bin"
NANOFORGE="$ROOT/.build/release/nanoforge"
PY="$ROOT/.venv-bench/bin/python"
SMOLLM2="$ROOT/.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT="${INTEROP_OUT:-$ROOT/out/interop}/codes"
CONTEXT="${CONTEXT:-256}"
TEXT_BYTES="${TEXT_BYTES:-40000}"
SMOLLM2_REST_TYPE="${SMOLLM2_REST_TYPE:-f32}"
PPL_TOLERANCE="${PPL_TOLERANCE:-0.005}"

for f in "$TOOLS/llama-perplexity" "$PY" "$ROOT/.cache/data/pydoc-topics.txt"; do
    [[ -e "$f" ]] || { echo "interop: missing $f (run make interop / make setup)" >&2; exit 2; }
done
rm -rf "$OUT" && mkdir -p "$OUT"
head -c "$TEXT_BYTES" "$ROOT/.cache/data/pydoc-topics.txt" > "$OUT/text.txt"

(cd "$ROOT" && swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null \
    && NANOFORGE_INTEROP_OUT="$OUT" swift test -c release -Xswiftc -enable-testing --skip-build \
        --filter GGUFInteropFolders > "$OUT/folders.log" 2>&1) || {
    echo "interop: writing the folders failed (log: $OUT/folders.log)" >&2; tail -20 "$OUT/folders.log" >&2; exit 1; }

status=0
for name in tiny-llama-mixed smollm2-mixed; do
    folder="$OUT/$name"
    [[ -d "$folder" ]] || { echo "== $name: skipped (no $SMOLLM2)"; continue; }
    file="$OUT/$name.gguf"
    echo "== $name: nanoforge export --format gguf"
    # The tiny model's matrices without codes take the default Q8_0 (the encode-at-export path is
    # checked too); SmolLM2's are F32, so the file holds exactly the weights nanoforge evaluated
    # and the perplexities compare the same model.
    type=q8_0
    [[ "$name" == smollm2-mixed ]] && type="$SMOLLM2_REST_TYPE"
    "$NANOFORGE" export "$folder" --format gguf --gguf-type "$type" --output "$file" \
        --gguf-reference "$OUT/$name.reference.safetensors" 2>&1 | sed 's/^/  /'
    tokenizer=()
    [[ "$name" == smollm2-mixed ]] && tokenizer=(--tokenizer-of "$SMOLLM2")
    "$PY" "$ROOT/scripts/interop/check_gguf_dequant.py" "$file" "$OUT/$name.reference.safetensors" "${tokenizer[@]}" || status=1

    context="$CONTEXT"
    [[ "$name" == tiny-llama-mixed ]] && context=64   # the tiny model's rotary table covers 64 positions
    "$TOOLS/llama-perplexity" -m "$file" -f "$OUT/text.txt" -c "$context" -b "$context" -t 2 > "$file.ppl.log" 2>&1 || {
        echo "interop: llama-perplexity failed on $file (log: $file.ppl.log)" >&2; tail -5 "$file.ppl.log" >&2; status=1; continue; }
    ppl_llama="$(grep -o 'Final estimate: PPL = [0-9.]*' "$file.ppl.log" | awk '{print $NF}')"
    ppl() { "$NANOFORGE" eval "$1" --task perplexity --data "$OUT/text.txt" --context "$context" --json "${@:2}" \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])'; }
    # Compared: nanoforge with llama.cpp's input rounding (--llama-cpp-arithmetic), the file and
    # the folder it came from; the Float32 figure is printed beside them.
    ppl_plain="$(ppl "$file" --engine dense)"
    ppl_ours="$(ppl "$file" --llama-cpp-arithmetic)"
    ppl_folder="$(ppl "$folder" --llama-cpp-arithmetic)"
    echo "== $name: perplexity (c=$context, $TEXT_BYTES bytes): llama-perplexity $ppl_llama; nanoforge eval --llama-cpp-arithmetic of the file $ppl_ours, of the folder $ppl_folder; Float32 activations $ppl_plain"
    if [[ "$name" == smollm2-mixed ]]; then
        "$PY" -c "import sys; a, b, c = float('$ppl_llama'), float('$ppl_ours'), float('$ppl_folder'); d = max(abs(a - b) / b, abs(a - c) / c)
print(f'   relative difference {100 * d:.3f} % (goal <= {100 * $PPL_TOLERANCE:g} %)'); sys.exit(0 if d <= $PPL_TOLERANCE else 1)" || status=1
    fi
done
exit $status
