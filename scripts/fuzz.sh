#!/usr/bin/env bash
# Builds the libFuzzer targets under Fuzz/ and runs each for FUZZ_SECONDS (default 60).
#
#   make fuzz                         # all four targets, 60 s each
#   FUZZ_SECONDS=10 FUZZ_TARGETS="recipe gguf" make fuzz
#
# The package's modules are compiled with coverage instrumentation and AddressSanitizer by SwiftPM
# into .build-fuzz (`swift build --target NanoForge`: no product is needed, and the CLI, which has
# its own main, is not built), with the flags given through -Xswiftc/-Xcc: SwiftPM's own
# `--sanitize=fuzzer --sanitize=address` passes them as two swiftc flags, and Swift 6.3 then
# instruments for one only (the modules came out with ASan and no coverage counters, so libFuzzer
# saw 27 edges of the safetensors reader); `-sanitize=fuzzer,address` in one flag does both. Each Fuzz/<Name>Fuzz.swift
# defines LLVMFuzzerTestOneInput and is linked with swiftc against those objects; libFuzzer
# supplies main. Seeds come from Fixtures/ (valid and corrupt files); the growing corpus stays in
# .build-fuzz/corpus/<target>, crashes land in .build-fuzz/crashes/<target>/, and the last lines
# of each run (executions, coverage, corpus size) in .build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"safetensors gguf recipe wordpiece"}
BUILD=.build-fuzz

swift build -c release --build-path "$BUILD" --target NanoForge \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
BIN="$BUILD/release"
MODULES="$BIN/Modules"
[ -d "$MODULES" ] || MODULES="$BIN"
OBJECTS=()
for module in NanoTensor NanoModels NanoCheckpoint NanoForge Yams CYaml; do
    OBJECTS+=($(find "$BIN/$module.build" -name '*.o'))
done

seed() { # seed TARGET FILES...: copies seed files into the target's corpus folder
    local dir="$BUILD/seeds/$1"; shift
    mkdir -p "$dir"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done
}
seed safetensors Fixtures/checkpoints/safetensors/*.safetensors Fixtures/checkpoints/corrupt/*.safetensors \
    Fixtures/models/digits-mlp/model.safetensors
seed gguf Fixtures/checkpoints/corrupt/gguf/*.gguf
seed recipe Recipes/*.yaml Fixtures/recipes/invalid/*.yaml
mkdir -p "$BUILD/seeds/wordpiece"
head -200 Fixtures/minilm/pydoc.txt | split -l 4 - "$BUILD/seeds/wordpiece/pydoc-"
head -40 Fixtures/minilm/unseen.txt | split -l 4 - "$BUILD/seeds/wordpiece/unseen-"

mkdir -p "$BUILD/fuzzers" "$BUILD/logs"
declare -A SOURCE=([safetensors]=SafetensorsFuzz [gguf]=GGUFFuzz [recipe]=RecipeFuzz [wordpiece]=WordPieceFuzz)
# Text costs about 30 µs a byte to tokenize under ASan: long inputs would leave WordPiece at ~10 runs/s.
declare -A MAX_LEN=([safetensors]=65536 [gguf]=65536 [recipe]=16384 [wordpiece]=512)
status=0
for target in $TARGETS; do
    exe="$BUILD/fuzzers/$target"
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz_$target" \
        -I "$MODULES" -I Sources/CBLAS -I Sources/CHDF5 -I "$BUILD/checkouts/Yams/Sources/CYaml/include" -Xcc -I/usr/include/hdf5/serial \
        "Fuzz/${SOURCE[$target]}.swift" "${OBJECTS[@]}" -lopenblas -lhdf5_serial -o "$exe" 2> "$BUILD/logs/$target.link.log" \
        || { cat "$BUILD/logs/$target.link.log"; exit 1; }
    mkdir -p "$BUILD/corpus/$target" "$BUILD/crashes/$target"
    echo "fuzzing $target for $SECONDS_PER_TARGET s"
    if ! "$exe" "$BUILD/corpus/$target" "$BUILD/seeds/$target" -max_total_time="$SECONDS_PER_TARGET" \
            -rss_limit_mb=4096 -max_len="${MAX_LEN[$target]}" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$BUILD/crashes/$target/" > "$BUILD/logs/$target.log" 2>&1; then
        status=1
        echo "$target: CRASH, see $BUILD/logs/$target.log and $BUILD/crashes/$target/"
    fi
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)" "$BUILD/logs/$target.log" | cut -c1-120
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/logs/$target.log" || true
done
exit $status
