#!/bin/bash
# The fidelity table "report vs deployed engine": for each recipe shape, compress all-MiniLM-L6-v2
# with BIN, read the report's cosine_mean/min, then measure the written model with `BIN eval`
# (the engine `embed` uses: the packed runtime, default kernel) and with `--engine dense`, all
# against the fp32 model through nanoforge's dense path, on the same 300 sentences: 150 weather
# utterances (every 4th line of weather-test.tsv) and 150 pydoc sentences (every 10th line).
#   scripts/fidelity_report_vs_engine.sh BIN WORKDIR [int8 int4 static dynamic]
# Prints one line per shape and engine. Needs python3 (reads report.json / eval --json).
set -euo pipefail
BIN=$(realpath "$1"); WORK=$2; shift 2
SHAPES=${*:-int8 int4 static dynamic}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
M=$ROOT/.cache/models/all-MiniLM-L6-v2
mkdir -p "$WORK"
S=$WORK/sentences300.txt
{ awk -F'\t' 'NR%4==1{print $2}' "$ROOT/.cache/data/weather-test.tsv" | head -150
  awk 'NR%10==3' "$ROOT/.cache/data/pydoc-sentences.txt" | head -150; } > "$S"
BASE='method: rtn, bits: 8, granularity: channel, symmetric: true, targets: ["Linear"], ignore: ["pooler.*"]'
for shape in $SHAPES; do
  case $shape in
    int8) Q="{ $BASE }" ;;
    int4) Q='{ method: rtn, bits: 4, group_size: 128, symmetric: true, targets: ["Linear"], ignore: ["pooler.*"] }' ;;
    static) Q="{ $BASE, activations: { bits: 8 } }" ;;
    dynamic) Q="{ $BASE, activations: { mode: dynamic } }" ;;
    *) echo "unknown shape $shape"; exit 1 ;;
  esac
  cat > "$WORK/$shape.yaml" <<YAML
name: fidelity-$shape
model: { path: $M }
seed: 7
data:
  calibration: { path: $ROOT/.cache/data/pydoc-sentences.txt, samples: 256 }
evaluation:
  - { task: fidelity, data: $S }
stages:
  - quantize: $Q
output: { dir: $WORK/$shape }
YAML
  "$BIN" compress "$WORK/$shape.yaml" > "$WORK/$shape.log" 2>&1
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['stages'][-1]['metrics']; print(f'$shape report   cosine_mean {m[\"cosine_mean\"]:.10f} min {m[\"cosine_min\"]:.10f}')" "$WORK/$shape/report.json"
  for engine in auto dense; do
    "$BIN" eval "$WORK/$shape" --task fidelity --data "$S" --reference "$M" --engine $engine --json > "$WORK/$shape-$engine.json" 2>/dev/null
    python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(f'$shape $engine'.ljust(14) + f' cosine_mean {m[\"cosine_mean\"]:.10f} min {m[\"cosine_min\"]:.10f}')" "$WORK/$shape-$engine.json"
  done
done
