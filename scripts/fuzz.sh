#!/usr/bin/env bash
# Builds the libFuzzer targets under Fuzz/ and runs each for FUZZ_SECONDS (default 60).
#
#   make fuzz                         # all five targets, 60 s each
#   FUZZ_SECONDS=10 FUZZ_TARGETS="recipe gguf" make fuzz
#   scripts/fuzz.sh --seconds 10      # the short pass
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
TARGETS=${FUZZ_TARGETS:-"safetensors gguf recipe wordpiece hdf5"}
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
        --targets) TARGETS=$2; shift 2 ;;
        *) echo "usage: scripts/fuzz.sh [--seconds N] [--targets \"safetensors gguf recipe wordpiece hdf5\"]" >&2; exit 2 ;;
    esac
done
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
# Not the hdf5-libhdf5-* fixtures: they crash or hang libhdf5 (found by this target; docs/robustness.md).
seed hdf5 Fixtures/checkpoints/hdf5/*.h5 Fixtures/checkpoints/keras/*.h5 \
    $(ls Fixtures/checkpoints/corrupt/*.h5 | grep -v /hdf5-libhdf5-)
seed recipe Recipes/*.yaml Fixtures/recipes/invalid/*.yaml
mkdir -p "$BUILD/seeds/wordpiece"
head -200 Fixtures/minilm/pydoc.txt | split -l 4 - "$BUILD/seeds/wordpiece/pydoc-"
head -40 Fixtures/minilm/unseen.txt | split -l 4 - "$BUILD/seeds/wordpiece/unseen-"

mkdir -p "$BUILD/fuzzers" "$BUILD/logs"
declare -A SOURCE=([safetensors]=SafetensorsFuzz [gguf]=GGUFFuzz [recipe]=RecipeFuzz [wordpiece]=WordPieceFuzz [hdf5]=HDF5Fuzz)
# Text costs about 30 µs a byte to tokenize under ASan: long inputs would leave WordPiece at ~10 runs/s.
declare -A MAX_LEN=([safetensors]=65536 [gguf]=65536 [recipe]=16384 [wordpiece]=512 [hdf5]=65536)
# libhdf5 (not instrumented, not ours) crashes and hangs on some corrupt files within seconds
# (docs/robustness.md). The hdf5 target therefore runs in fork mode and goes on past them; each
# artifact is then replayed alone and blamed on the first stack frame outside the sanitizer,
# libFuzzer and libc: one in libhdf5_serial (or one that does not fail alone, like leaks of HDF5's
# caches seen only after many inputs) is moved to crashes/hdf5/libhdf5/ and reported; any other fails.
# libhdf5's hangs would each cost the full timeout: 2 s for it (a valid 64 KB file reads in milliseconds).
declare -A EXTRA=([hdf5]="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=2")
blame() { # blame EXE ARTIFACT: prints libhdf5, ours, or unreproduced (no failure in a lone rerun)
    local frame
    frame=$("$1" -runs=1 -timeout=5 "$2" 2>&1 | grep -E '^ +#[0-9]+ 0x' \
        | grep -vE 'compiler-rt|libc\.so|sysdeps/|fuzzer::|__sanitizer|__interceptor|LLVMFuzzer' | head -1)
    case "$frame" in
        *libhdf5_serial*) echo libhdf5 ;;
        "") echo unreproduced ;;
        *) echo ours ;;
    esac
}
status=0
for target in $TARGETS; do
    exe="$BUILD/fuzzers/$target"
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz_$target" \
        -I "$MODULES" -I Sources/CBLAS -I Sources/CHDF5 -I "$BUILD/checkouts/Yams/Sources/CYaml/include" -Xcc -I/usr/include/hdf5/serial \
        "Fuzz/${SOURCE[$target]}.swift" "${OBJECTS[@]}" -lopenblas -lhdf5_serial -o "$exe" 2> "$BUILD/logs/$target.link.log" \
        || { cat "$BUILD/logs/$target.link.log"; exit 1; }
    mkdir -p "$BUILD/corpus/$target" "$BUILD/crashes/$target"
    echo "fuzzing $target for $SECONDS_PER_TARGET s"
    rc=0
    "$exe" "$BUILD/corpus/$target" "$BUILD/seeds/$target" -max_total_time="$SECONDS_PER_TARGET" \
        -rss_limit_mb=4096 -max_len="${MAX_LEN[$target]}" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$BUILD/crashes/$target/" ${EXTRA[$target]:-} > "$BUILD/logs/$target.log" 2>&1 || rc=$?
    # In fork mode the exit status reports ignored failures too; the artifacts are judged below.
    if [ $rc -ne 0 ] && [ -z "${EXTRA[$target]:-}" ]; then
        status=1
        echo "$target: CRASH, see $BUILD/logs/$target.log and $BUILD/crashes/$target/"
    fi
    if [ -n "${EXTRA[$target]:-}" ]; then
        mkdir -p "$BUILD/crashes/$target/libhdf5"
        for artifact in "$BUILD/crashes/$target"/{crash,leak,timeout,oom}-*; do
            [ -f "$artifact" ] || continue
            case "$(blame "$exe" "$artifact")" in
                libhdf5) mv "$artifact" "$BUILD/crashes/$target/libhdf5/"
                         echo "$target: $(basename "$artifact") fails inside libhdf5 (moved to $BUILD/crashes/$target/libhdf5/)" ;;
                unreproduced) mv "$artifact" "$BUILD/crashes/$target/libhdf5/"
                         echo "$target: $(basename "$artifact") does not fail when rerun alone (state left by earlier inputs; moved too)" ;;
                *) status=1; echo "$target: $(basename "$artifact") fails in nanoforge's code: CRASH" ;;
            esac
        done
    fi
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^#[0-9]+: cov" "$BUILD/logs/$target.log" | sed -n '1p;$p' | cut -c1-120
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/logs/$target.log" || true
done
exit $status
