#!/usr/bin/env bash
# The measurements of docs/scale-out.md: one SmolLM2-135M-Instruct Q4_1 teacher, three ways, the
# same student (vocabulary trimmed to the pydoc training text, 18 of 30 blocks dropped, half of
# every feed-forward), data, seed and steps:
#   local           the teacher loaded in-process (teachers: [{path}])
#   nanoforge-serve the teacher behind `nanoforge serve` (echo protocol)
#   llama-server    the teacher behind llama.cpp's llama-server (per-position protocol)
# The llama-server run is killed (SIGKILL) KILL_AFTER seconds in, mid-fetch, and run again: it
# must resume from the cache it saved and fetch only the missing windows. Prints the lines docs/scale-out.md quotes; everything stays in WORK.
# Needs make build, scripts/interop/build_llama_cpp.sh and scripts/setup.sh.
# Usage: scripts/interop/measure_scale_out.sh [WORKDIR] [STEPS]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NANOFORGE="${NANOFORGE:-$ROOT/.build/release/nanoforge}"
LLAMA_SERVER="${LLAMA_SERVER:-$ROOT/.cache/tools/llama.cpp/bin/llama-server}"
MODEL="$ROOT/.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
TRAIN="$ROOT/.cache/data/pydoc-topics-train.txt"
HELDOUT="$ROOT/.cache/data/pydoc-topics-heldout.txt"
WORK="${1:-$ROOT/out/scale-out}"
STEPS="${2:-30}"
KILL_AFTER="${KILL_AFTER:-150}"
ONLY="${ONLY:-local nanoforge-serve llama-server}"
mkdir -p "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT
wait_health() {
    for _ in $(seq 1 1200); do curl -sf "$2/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "measure_scale_out: no /health at $2" >&2; cat "$1" >&2; return 1
}

LP=$(free_port); NP=$(free_port)
"$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$LP" -t 2 -np 2 -c 4096 --no-webui --alias smollm2 >"$WORK/server-llama.log" 2>&1 &
PIDS+=($!)
"$NANOFORGE" serve "smollm2=$MODEL" --port "$NP" >"$WORK/server-nanoforge.log" 2>&1 &
PIDS+=($!)
wait_health "$WORK/server-llama.log" "http://127.0.0.1:$LP"
wait_health "$WORK/server-nanoforge.log" "http://127.0.0.1:$NP"

recipe() {  # $1 name, $2 teacher entry
    cat > "$WORK/$1.yaml" <<YAML
name: scale-out-$1
model: { path: $MODEL }
seed: 7
data:
  calibration: { path: $TRAIN, samples: 32 }
evaluation:
  - { task: perplexity, data: $HELDOUT, context: 512, limit: 4 }
stages:
  - trim_vocabulary: { corpus: [$TRAIN] }
  - prune_structured: { drop_blocks: 18, ffn_ratio: 0.5 }
  - distill:
      teachers: [$2]
      losses: [{ loss: logit_kl }]
      sequence_length: ${LENGTH:-64}
      teacher_top_k: 16
      teacher_cache: $WORK/$1.teacher-cache.h5
      data: $TRAIN
      steps: $STEPS
      batch_size: 2
      learning_rate: 0.0005
      warmup: 5
output: { dir: $WORK/out-$1, formats: [] }
YAML
}
recipe local "{ path: $MODEL }"
recipe nanoforge-serve "{ endpoint: \"http://127.0.0.1:$NP\", model: smollm2, protocol: echo, concurrency: 2 }"
recipe llama-server "{ endpoint: \"http://127.0.0.1:$LP\", model: smollm2, protocol: per_position, concurrency: 2 }"

for name in $ONLY; do
    rm -f "$WORK/$name.teacher-cache.h5"
    rm -rf "$WORK/out-$name" "$WORK/out-$name.checkpoints"
    if [[ $name == llama-server ]]; then
        "$NANOFORGE" compress "$WORK/$name.yaml" >"$WORK/$name.killed.log" 2>&1 &
        PID=$!
        sleep "$KILL_AFTER"
        kill -KILL $PID 2>/dev/null || true
        wait $PID 2>/dev/null || true
        echo "== $name: killed (SIGKILL) after $KILL_AFTER s"; grep -E "teacher" "$WORK/$name.killed.log" | tail -6
    fi
    start=$(date +%s)
    /usr/bin/time -v "$NANOFORGE" compress "$WORK/$name.yaml" >"$WORK/$name.log" 2>&1
    echo "== $name ($(( $(date +%s) - start )) s wall)"
    grep -E "teacher|perplexity|final loss|Maximum resident" "$WORK/$name.log" | grep -v "^\s*$" | tail -14
done
