#!/usr/bin/env bash
# Builds llama.cpp's command-line tools and shared ggml libraries for nanoforge's interop checks
# (GGUF files nanoforge writes are loaded by llama.cpp; encoder fixtures come from its libggml).
#
# The source is the llama.cpp tree vendored in the PyPI sdist of llama-cpp-python (pinned), so
# the whole tool chain comes from PyPI: the sdist, and cmake from PyPI's `cmake` package in a
# git-ignored venv. CPU only, no curl, Release, -j2 (the machine is shared).
#
# Output (git-ignored): $LLAMA_CPP_DIR (default .cache/tools/llama.cpp/)
#   bin/llama-quantize bin/llama-perplexity bin/llama-imatrix bin/llama-bench bin/llama-cli
#   bin/llama-simple bin/llama-server
#   lib/libggml*.so lib/libllama.so
#   VERSION  the pinned llama-cpp-python version and llama.cpp commit it was built from
# Idempotent: exits at once when VERSION matches and every tool is present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PIN="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
OUT="${LLAMA_CPP_DIR:-$ROOT/.cache/tools/llama.cpp}"
JOBS="${JOBS:-2}"
TOOLS=(llama-quantize llama-perplexity llama-imatrix llama-bench llama-cli llama-simple llama-server)
STAMP="llama-cpp-python==$PIN"

all_built() {
    [[ -f "$OUT/VERSION" ]] && head -n1 "$OUT/VERSION" | grep -qx "$STAMP" || return 1
    for t in "${TOOLS[@]}"; do [[ -x "$OUT/bin/$t" ]] || return 1; done
    ls "$OUT"/lib/libggml-base.so* >/dev/null 2>&1 || return 1
}

if all_built; then
    echo "llama.cpp tools already built in $OUT ($(head -n1 "$OUT/VERSION"))"
    exit 0
fi

mkdir -p "$OUT/src"
# The physical path: .cache is a symlink in each git worktree, and CMake records its build
# directory's path, so every worktree must name the shared build tree the same way to reuse it.
OUT="$(cd "$OUT" && pwd -P)"

# cmake from PyPI, in a git-ignored venv beside the build (a system cmake is not assumed).
VENV="$ROOT/.venv-interop"
PY="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/cmake" ]]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "cmake>=3.22,<4"
fi
CMAKE="$VENV/bin/cmake"

# The sdist; --no-binary only for llama-cpp-python itself: with ':all:' pip would also compile
# its build backend's dependencies (cmake, ninja) from source to prepare the sdist's metadata.
SDIST="$OUT/src/llama_cpp_python-$PIN.tar.gz"
if [[ ! -f "$SDIST" ]]; then
    "$VENV/bin/pip" download --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$PIN" -d "$OUT/src"
fi
SRC="$OUT/src/llama_cpp_python-$PIN/vendor/llama.cpp"
if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
    tar -xzf "$SDIST" -C "$OUT/src" "llama_cpp_python-$PIN/vendor/llama.cpp" \
        "llama_cpp_python-$PIN/.git/modules/vendor/llama.cpp/HEAD"
fi

BUILD="$OUT/build"
# A build tree configured under another path (a worktree since removed) cannot be reconfigured:
# start that configuration afresh (the objects are rebuilt).
if [[ -f "$BUILD/CMakeCache.txt" ]] &&
   ! grep -qx "CMAKE_CACHEFILE_DIR:INTERNAL=$BUILD" "$BUILD/CMakeCache.txt"; then
    echo "llama.cpp build tree $BUILD was configured elsewhere; configuring it afresh" >&2
    rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi
"$CMAKE" -S "$SRC" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=ON \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON \
    -DGGML_NATIVE=ON \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENMP=ON \
    -DCMAKE_BUILD_RPATH='$ORIGIN;$ORIGIN/../lib'
"$CMAKE" --build "$BUILD" --config Release -j "$JOBS" --target "${TOOLS[@]}"

mkdir -p "$OUT/bin" "$OUT/lib"
for t in "${TOOLS[@]}"; do cp -f "$BUILD/bin/$t" "$OUT/bin/$t"; done
# Shared libraries: copy with their symlinks (libggml-base.so -> .so.0 -> .so.0.x.y).
find "$BUILD" \( -name 'libggml*.so*' -o -name 'libllama*.so*' -o -name 'libmtmd*.so*' \) \
    -exec cp -Pf {} "$OUT/lib/" \;
COMMIT="$(cat "$OUT/src/llama_cpp_python-$PIN/.git/modules/vendor/llama.cpp/HEAD" 2>/dev/null || echo unknown)"
printf '%s\nllama.cpp %s\n' "$STAMP" "$COMMIT" > "$OUT/VERSION"
echo "built llama.cpp tools into $OUT"
"$OUT/bin/llama-quantize" --help >/dev/null 2>&1 || true
