#!/usr/bin/env bash
# Interop check of the distillation teacher behind an OpenAI-compatible endpoint (`make interop`,
# not `make test`): SmolLM2-135M-Instruct Q4_1 served by llama.cpp's llama-server (which refuses
# echo: the per-position protocol) and by `nanoforge serve` (echo), each the teacher of a short
# distillation of a vocabulary-trimmed SmolLM2 on a small slice of the pydoc text. Each run must
# pass the tokenizer check, fetch every window it visits, train, and log its protocol and its
# throughput; a second run on the same cache must fetch nothing.
#
# Needs .build/release/nanoforge (make build), llama-server (scripts/interop/build_llama_cpp.sh)
# and the model and data of scripts/setup.sh.
# Usage: scripts/interop/check_endpoint_teacher.sh [WORKDIR]   (WORKDIR kept; default a temporary one)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NANOFORGE="${NANOFORGE:-$ROOT/.build/release/nanoforge}"
LLAMA_SERVER="${LLAMA_SERVER:-$ROOT/.cache/tools/llama.cpp/bin/llama-server}"
MODEL="$ROOT/.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
DATA="$ROOT/.cache/data/pydoc-topics-train.txt"
for f in "$NANOFORGE" "$LLAMA_SERVER" "$MODEL" "$DATA"; do
    [[ -e $f ]] || { echo "check_endpoint_teacher: $f is missing (make build, scripts/interop/build_llama_cpp.sh, scripts/setup.sh)" >&2; exit 2; }
done
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
head -c 12000 "$DATA" > "$WORK/slice.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT

# $1 log file, $2 URL: waits for GET /health to answer 200.
wait_health() {
    for _ in $(seq 1 1200); do
        curl -sf "$2/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "check_endpoint_teacher: no /health at $2:" >&2; cat "$1" >&2; return 1
}

LP=$(free_port)
"$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$LP" -t 2 -np 2 -c 2048 --no-webui --alias smollm2 >"$WORK/server-llama.log" 2>&1 &
PIDS+=($!)
wait_health "$WORK/server-llama.log" "http://127.0.0.1:$LP"
NP=$(free_port)
"$NANOFORGE" serve "smollm2=$MODEL" --port "$NP" >"$WORK/server-nanoforge.log" 2>&1 &
PIDS+=($!)
wait_health "$WORK/server-nanoforge.log" "http://127.0.0.1:$NP"

# $1 name, $2 teacher entry (YAML flow mapping)
recipe() {
    cat > "$WORK/$1.yaml" <<YAML
name: endpoint-teacher-$1
model: { path: $MODEL }
seed: 7
data:
  calibration: { path: $WORK/slice.txt, samples: 4 }
stages:
  - trim_vocabulary: { corpus: [$WORK/slice.txt] }
  - distill:
      teachers: [$2]
      losses: [{ loss: logit_kl }]
      sequence_length: 32
      teacher_top_k: 8
      teacher_cache: $WORK/$1.teacher-cache.h5
      data: $WORK/slice.txt
      steps: 3
      batch_size: 2
      learning_rate: 0.0001
output: { dir: $WORK/out-$1, formats: [] }
YAML
}

status=0
run() {  # $1 name, $2 protocol expected in the log
    echo "check_endpoint_teacher: $1"
    if ! "$NANOFORGE" compress "$WORK/$1.yaml" >"$WORK/$1.log" 2>&1; then
        echo "check_endpoint_teacher: $1 failed:" >&2; tail -20 "$WORK/$1.log" >&2; status=1; return
    fi
    grep -E "tokenizes the training text|answers with|tokens/s|to compute" "$WORK/$1.log" | sed 's/^/  /'
    grep -q "answers with the $2 protocol" "$WORK/$1.log" || { echo "check_endpoint_teacher: $1 did not use $2" >&2; status=1; }
    "$NANOFORGE" compress "$WORK/$1.yaml" >"$WORK/$1.again.log" 2>&1 || { echo "check_endpoint_teacher: $1 again failed" >&2; status=1; return; }
    grep -q ", 0 to compute" "$WORK/$1.again.log" || { echo "check_endpoint_teacher: $1 again fetched windows" >&2; status=1; }
}
recipe llama-server "{ endpoint: \"http://127.0.0.1:$LP\", model: smollm2, protocol: auto, concurrency: 2 }"
run llama-server per_position
recipe nanoforge-serve "{ endpoint: \"http://127.0.0.1:$NP/v1\", model: smollm2, protocol: auto, concurrency: 2 }"
run nanoforge-serve echo
[[ $status == 0 ]] && echo "check_endpoint_teacher: ok (logs in $WORK)"
exit $status
