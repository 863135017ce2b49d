#!/usr/bin/env python3
"""Data preparation steps for scripts/setup.sh (standard library only).

Each subcommand writes its outputs to temporary names first and renames them at the
end, so an interrupted run never leaves a half-written file behind. The outputs are
deterministic for a given input archive and CPython version.

    prepare_data.py digits ARCHIVE OUT.csv.gz      (also writes OUT.csv, uncompressed)
    prepare_data.py pydoc TOPICS.txt SENTENCES.txt
    prepare_data.py pydoc-split TOPICS.txt TRAIN.txt HELDOUT.txt
    prepare_data.py bible-lm-split BIBLE.tsv TRAIN.txt HELDOUT.txt
    prepare_data.py minilm ARCHIVE OUT_DIR
    prepare_data.py bible SWORD_DIR OUT.tsv          (needs pysword on sys.path)
    prepare_data.py weather ARCHIVE TRAIN.tsv TEST.tsv
    prepare_data.py distill SENTENCES.txt BIBLE.tsv WEATHER_TRAIN.tsv OUT.txt
    prepare_data.py distill-nano SENTENCES.txt BIBLE.tsv WEATHER_TRAIN.tsv OUT.txt
    prepare_data.py lfw ARCHIVE CALIBRATION.tsv EVALUATION.tsv
    prepare_data.py lfw-unlabelled ARCHIVE CALIBRATION.tsv OUT.tsv
"""

import functools
import gzip
import html
import random
import json
import os
import re
import shutil
import struct
import sys
import zlib
import tarfile
import tempfile
import zipfile

DIGITS_MEMBER = "sklearn/datasets/data/digits.csv.gz"
DIGITS_ROWS, DIGITS_COLS = 1797, 65

# Files copied flat into the model folder. The first four are required.
MINILM_REQUIRED = ["model.safetensors", "config.json", "vocab.txt", "tokenizer.json"]
MINILM_OPTIONAL = ["tokenizer_config.json", "special_tokens_map.json", "sentence_bert_config.json"]
MINILM_SIZE_RANGE = (85_000_000, 95_000_000)  # fp32 all-MiniLM-L6-v2 is 90.9 MB


def fail(message):
    print(f"prepare_data: error: {message}", file=sys.stderr)
    sys.exit(1)


def human(size):
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def write_atomically(path, data):
    """Writes bytes to `path` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Archive:
    """A wheel (zip) or an sdist (tar) read through one interface."""

    def __init__(self, path):
        self.path = path
        if zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._tar = None
            self.names = [i.filename for i in self._zip.infolist() if not i.is_dir()]
        elif tarfile.is_tarfile(path):
            self._zip = None
            self._tar = tarfile.open(path)
            self.names = [m.name for m in self._tar.getmembers() if m.isfile()]
        else:
            fail(f"{path} is neither a zip (wheel) nor a tar (sdist) archive")

    def read(self, name):
        if self._zip is not None:
            return self._zip.read(name)
        f = self._tar.extractfile(name)
        if f is None:
            fail(f"{self.path}: cannot read {name}")
        return f.read()

    def copy_to(self, name, dest):
        """Streams one member to `dest` (large files are not held in memory)."""
        if self._zip is not None:
            src = self._zip.open(name)
        else:
            src = self._tar.extractfile(name)
        with src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


# ---------------------------------------------------------------------------
# digits


def digits(archive_path, out_path):
    archive = Archive(archive_path)
    if DIGITS_MEMBER not in archive.names:
        fail(f"{archive_path} has no {DIGITS_MEMBER}")
    data = archive.read(DIGITS_MEMBER)
    text = gzip.decompress(data).decode("ascii")
    rows = [line for line in text.splitlines() if line.strip()]
    if len(rows) != DIGITS_ROWS:
        fail(f"digits: expected {DIGITS_ROWS} rows, found {len(rows)}")
    for i, row in enumerate(rows):
        values = row.split(",")
        if len(values) != DIGITS_COLS:
            fail(f"digits: row {i + 1} has {len(values)} values, expected {DIGITS_COLS}")
        try:
            pixels = [float(v) for v in values[:-1]]
            label = float(values[-1])
        except ValueError:
            fail(f"digits: row {i + 1} is not numeric")
        if not all(0 <= p <= 16 for p in pixels) or label not in range(10):
            fail(f"digits: row {i + 1} is out of range")
    # The Swift side reads the plain CSV (Foundation has no gzip); keep both.
    plain_path = out_path[:-3] if out_path.endswith(".gz") else out_path + ".csv"
    write_atomically(plain_path, text.encode("ascii"))
    write_atomically(out_path, data)
    print(f"{out_path}: {DIGITS_ROWS} rows x {DIGITS_COLS} values ({human(len(data))}, from {os.path.basename(archive_path)})")
    print(f"{plain_path}: the same, uncompressed ({human(len(text))})")


# ---------------------------------------------------------------------------
# pydoc text


_HEADING = re.compile(r"^[*=\-~^\"#]{3,}\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:[*\-]|\d+\.|\(\d+\))\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"(]?[A-Z])")
_SENTENCE_OK = re.compile(r"^[\"(]?[A-Z].*[.!?][\"')]?$")


def _prose_blocks(text):
    """Paragraphs of running text: no headings, tables, grammar rules or code."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if any(_HEADING.match(line) for line in lines):
            continue  # a heading and its underline
        stripped = [line.strip() for line in lines]
        if any(s.startswith(("+", "|", ">>>", "...", "$ ")) or "::=" in s for s in stripped):
            continue  # tables, interactive sessions, grammar
        first = lines[0]
        indent = len(first) - len(first.lstrip())
        if indent >= 3 and not _LIST_MARKER.match(first) and not re.match(r"^\s*[A-Z][a-z]", first):
            continue  # an indented code block
        stripped[0] = _LIST_MARKER.sub("", stripped[0])
        # Rejoin words hyphenated across a line break ("non-" + "numeric").
        yield re.sub(r"(?<=[a-z])- (?=[a-z])", "-", " ".join(stripped))


def _is_sentence(sentence):
    words = sentence.split()
    if not 5 <= len(words) <= 60 or not _SENTENCE_OK.match(sentence):
        return False
    visible = [c for c in sentence if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if letters < 0.75 * len(visible):
        return False  # mostly code, numbers or symbols
    if any(token in sentence for token in ("{", "}", ";", "==", "->", "__")):
        return False
    return True


def _pydoc_texts():
    """Each pydoc topic's text, in sorted key order, ending in one newline."""
    try:
        from pydoc_data import topics as pydoc_topics
    except ImportError:
        fail("this python3 has no pydoc_data (install the full CPython standard library)")
    topics = pydoc_topics.topics
    return [topics[k].rstrip("\n") + "\n" for k in sorted(topics)]


def pydoc(topics_path, sentences_path):
    texts = _pydoc_texts()
    corpus = "\n".join(texts)
    seen, sentences = set(), []
    for text in texts:
        for block in _prose_blocks(text):
            for sentence in _SENTENCE_END.split(block):
                sentence = " ".join(sentence.split())
                if _is_sentence(sentence) and sentence not in seen:
                    seen.add(sentence)
                    sentences.append(sentence)
    if len(corpus) < 100_000 or len(sentences) < 1_000:
        fail(f"pydoc text looks too small: {len(corpus)} characters, {len(sentences)} sentences")
    version = ".".join(map(str, sys.version_info[:3]))
    if topics_path:
        write_atomically(topics_path, corpus.encode("utf-8"))
        print(f"{topics_path}: {len(texts)} topics, {len(corpus):,} characters (CPython {version})")
    if sentences_path:
        write_atomically(sentences_path, ("\n".join(sentences) + "\n").encode("utf-8"))
        print(f"{sentences_path}: {len(sentences):,} sentences of 5-60 words")


def pydoc_split(topics_path, train_path, heldout_path):
    """The language-model domain split of pydoc-topics.txt (Recipes/smollm2-nano.yaml): the last
    topics (in the file's sorted key order) that make up about 10 % of its characters are held
    out, cut at a topic boundary so that no topic is in both. The topics come from this
    python3's pydoc_data, which must be the one that wrote the file."""
    with open(topics_path, encoding="utf-8") as f:
        corpus = f.read()
    texts = _pydoc_texts()
    if "\n".join(texts) != corpus:
        fail(f"{topics_path} was written by another CPython's pydoc_data; delete it and rerun set-up")
    target, size, cut = int(len(corpus) * 0.9), 0, len(texts)
    for i, text in enumerate(texts):
        if size >= target:
            cut = i
            break
        size += len(text) + 1
    train, heldout = "\n".join(texts[:cut]), "\n".join(texts[cut:])
    if len(heldout) < 20_000 or len(train) < 200_000:
        fail(f"{topics_path}: split too small ({len(train)} / {len(heldout)} characters)")
    write_atomically(train_path, train.encode("utf-8"))
    write_atomically(heldout_path, heldout.encode("utf-8"))
    print(f"{train_path}: {cut} topics, {len(train):,} characters; {heldout_path}: {len(texts) - cut} topics, "
          f"{len(heldout):,} characters (held out)")


BIBLE_LM_TRAIN_CHARACTERS = 420_000
BIBLE_LM_HELDOUT_CHARACTERS = 40_000


def bible_lm_split(bible_path, train_path, heldout_path):
    """The second language-model domain of issue 15 (Recipes/smollm2-nano-bible.yaml): the World
    English Bible column of bible-kjv-web.tsv, one verse a line. The first verses up to about
    420,000 characters (Genesis into Exodus; the size of the pydoc training split) are the
    training text, the last verses up to about 40,000 characters (the end of Revelation) are held
    out, so no verse and no book is in both."""
    with open(bible_path, encoding="utf-8") as f:
        verses = [line.rstrip("\n").split("\t")[1] for line in f if "\t" in line]
    train, size = [], 0
    for verse in verses:
        if size >= BIBLE_LM_TRAIN_CHARACTERS:
            break
        train.append(verse)
        size += len(verse) + 1
    heldout, size = [], 0
    for verse in reversed(verses[len(train):]):
        if size >= BIBLE_LM_HELDOUT_CHARACTERS:
            break
        heldout.append(verse)
        size += len(verse) + 1
    heldout.reverse()
    if len(train) + len(heldout) >= len(verses):
        fail(f"{bible_path}: too few verses ({len(verses)}) to split")
    write_atomically(train_path, ("\n".join(train) + "\n").encode("utf-8"))
    write_atomically(heldout_path, ("\n".join(heldout) + "\n").encode("utf-8"))
    print(f"{train_path}: the first {len(train):,} verses of the World English Bible; "
          f"{heldout_path}: the last {len(heldout):,} verses (held out)")


# ---------------------------------------------------------------------------
# all-MiniLM-L6-v2


def _check_safetensors(path):
    size = os.path.getsize(path)
    lo, hi = MINILM_SIZE_RANGE
    if not lo <= size <= hi:
        fail(f"{path}: {size:,} bytes, expected about 90.9 MB")
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > size - 8:
            fail(f"{path}: header length {header_len} exceeds the file")
        header = json.loads(f.read(header_len))
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    params = 0
    for v in tensors.values():
        n = 1
        for d in v["shape"]:
            n *= d
        params += n
    return size, len(tensors), params


def minilm(archive_path, out_dir):
    archive = Archive(archive_path)
    wanted = MINILM_REQUIRED + MINILM_OPTIONAL
    chosen = {}
    for name in sorted(archive.names, key=lambda n: (n.count("/"), n)):
        base = name.rsplit("/", 1)[-1]
        if base in wanted and base not in chosen:
            chosen[base] = name  # the shallowest path wins (model/config.json, not 1_Pooling/config.json)
    missing = [n for n in MINILM_REQUIRED if n not in chosen]
    if missing:
        fail(f"{archive_path} lacks {', '.join(missing)}")
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    os.chmod(tmp, 0o755)
    try:
        for base in wanted:
            if base in chosen:
                archive.copy_to(chosen[base], os.path.join(tmp, base))
        size, count, params = _check_safetensors(os.path.join(tmp, "model.safetensors"))
        with open(os.path.join(tmp, "config.json")) as f:
            config = json.load(f)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"{out_dir}: from {os.path.basename(archive_path)}:")
    for base in wanted:
        if base in chosen:
            print(f"  {chosen[base]} -> {base} ({human(os.path.getsize(os.path.join(out_dir, base)))})")
    print(f"  model.safetensors: {size:,} bytes, {count} tensors, {params / 1e6:.1f} M parameters, "
          f"{config.get('model_type', '?')} hidden {config.get('hidden_size', '?')}, "
          f"{config.get('num_hidden_layers', '?')} layers")


# ---------------------------------------------------------------------------
# King James <-> World English Bible verse pairs (retrieval)

KJV_MODULE, WEB_MODULE = "engKJV2006eb", "engWEB2015eb"  # Debian sword-text-kjv, sword-text-web
WEB_GLOSSARY = "The following words used in the World English Bible"

_NOTE = re.compile(r"<note\b.*?</note>", re.S)
_TITLE_NONCANONICAL = re.compile(r"<title\b(?![^>]*canonical=\"true\").*?</title>", re.S)
_TAG = re.compile(r"<[^>]*>")


def _clean_osis(raw):
    text = _NOTE.sub(" ", raw)
    text = _TITLE_NONCANONICAL.sub(" ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\u00b6", " ")
    return " ".join(text.split())


def _verses(bible):
    """{(book osis name, chapter, verse): clean text} for every verse of the module's own versification."""
    # pysword decompresses a whole book block for every verse it returns; cache the last few blocks.
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=8)(bible._decompressed_text)
    verses = {}
    order = []
    books = bible.get_structure().get_books()
    for testament in ("ot", "nt"):
        for book in books.get(testament, []):
            for chapter, length in enumerate(book.chapter_lengths, start=1):
                for verse in range(1, length + 1):
                    try:
                        raw = bible.get(books=[book.osis_name], chapters=[chapter], verses=[verse], clean=False)
                    except Exception:
                        continue
                    key = (book.osis_name, chapter, verse)
                    verses[key] = _clean_osis(raw)
                    order.append(key)
    return verses, order


def bible(sword_dir, out_path):
    try:
        from pysword.modules import SwordModules
    except ImportError:
        fail("pysword is not importable (setup installs it under .cache/tools/python)")
    modules = SwordModules(sword_dir)
    found = modules.parse_modules()
    for name in (KJV_MODULE, WEB_MODULE):
        if name not in found:
            fail(f"{sword_dir} has no SWORD module {name} (apt-get install sword-text-kjv sword-text-web)")
    kjv, kjv_order = _verses(modules.get_bible_from_module(KJV_MODULE))
    web, _ = _verses(modules.get_bible_from_module(WEB_MODULE))
    # The WEB module carries its glossary after the last verse (Revelation 22:21).
    for key, text in web.items():
        cut = text.find(WEB_GLOSSARY)
        if cut > 0:
            web[key] = text[:cut].rstrip()
    rows = []
    for key in kjv_order:  # canonical order; verses absent from either text are left out
        a, b = kjv[key], web.get(key, "")
        if len(a.split()) >= 3 and len(b.split()) >= 3:
            rows.append(f"{a}\t{b}")
    if len(rows) < 25_000:
        fail(f"only {len(rows)} aligned verses; expected about 31,000")
    write_atomically(out_path, ("\n".join(rows) + "\n").encode("utf-8"))
    print(f"{out_path}: {len(rows):,} KJV<TAB>WEB verse pairs aligned by book, chapter and verse")


# ---------------------------------------------------------------------------
# weather intents (classification)

WEATHER_SEED = 0
WEATHER_TEST_FRACTION = 0.2
# Values for `{location}`; other placeholders are dropped.
WEATHER_SLOTS = {
    "location": ["London", "Paris", "Tokyo", "New York", "Lisbon", "Nairobi", "Sydney", "Toronto",
                 "Berlin", "Mumbai", "Mexico City", "Cairo", "Oslo", "Seattle", "Buenos Aires", "Seoul"],
}
_SLOT = re.compile(r"\{\s*([^}]*?)\s*\}")


def weather(archive_path, train_path, test_path):
    archive = Archive(archive_path)
    files = sorted(n for n in archive.names
                   if "/locale/en-us/intents/" in n and n.endswith(".intent"))
    if not files:
        fail(f"{archive_path} has no locale/en-us/intents/*.intent files")
    rng = random.Random(WEATHER_SEED)
    train, test = [], []
    for name in files:
        label = name.rsplit("/", 1)[-1][: -len(".intent")]
        seen, utterances = set(), []
        for line in archive.read(name).decode("utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            text = _SLOT.sub(lambda m: rng.choice(WEATHER_SLOTS[m.group(1)]) if m.group(1) in WEATHER_SLOTS else "",
                             line)
            text = " ".join(text.replace("\t", " ").split())
            if text and text.lower() not in seen:
                seen.add(text.lower())
                utterances.append(text)
        rng.shuffle(utterances)
        held_out = round(len(utterances) * WEATHER_TEST_FRACTION)
        test += [f"{label}\t{u}" for u in utterances[:held_out]]
        train += [f"{label}\t{u}" for u in utterances[held_out:]]
    write_atomically(test_path, ("\n".join(test) + "\n").encode("utf-8"))
    write_atomically(train_path, ("\n".join(train) + "\n").encode("utf-8"))
    print(f"{train_path}: {len(train):,} utterances; {test_path}: {len(test):,} "
          f"({len(files)} intents, seeded {round(100 * (1 - WEATHER_TEST_FRACTION))}/{round(100 * WEATHER_TEST_FRACTION)} split per intent)")


# ---------------------------------------------------------------------------
# distillation text

DISTILL_SEED = 11
DISTILL_HELD_OUT_PAIRS = 2000   # the retrieval evaluation's pairs (the recipes' limit: 2000)


def distill(sentences_path, bible_path, weather_train_path, out_path, bible_pairs=None):
    """Unlabelled training text for distilling MiniLM: pydoc sentences, both columns of the
    Bible pairs after the first 2,000 (which the retrieval evaluation uses), and the weather
    training utterances (their labels dropped; the test file stays unseen). Shuffled, seeded.
    `bible_pairs` keeps only that many pairs (the next ones after the held-out 2,000)."""
    def lines(path):
        with open(path, encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    pydoc = lines(sentences_path)
    pairs = [l.split("\t") for l in lines(bible_path)]
    if len(pairs) <= DISTILL_HELD_OUT_PAIRS or any(len(p) != 2 for p in pairs):
        fail(f"{bible_path}: expected more than {DISTILL_HELD_OUT_PAIRS} query<TAB>target lines")
    kept = pairs[DISTILL_HELD_OUT_PAIRS:]
    if bible_pairs is not None:
        kept = kept[:bible_pairs]
    bible = [t for p in kept for t in p]
    weather = [l.split("\t", 1)[1] for l in lines(weather_train_path)]
    text = pydoc + bible + weather
    random.Random(DISTILL_SEED).shuffle(text)
    write_atomically(out_path, ("\n".join(text) + "\n").encode("utf-8"))
    print(f"{out_path}: {len(text):,} lines ({len(pydoc):,} pydoc, {len(bible):,} Bible verses after the first "
          f"{DISTILL_HELD_OUT_PAIRS:,} pairs, {len(weather):,} weather training utterances)")


DISTILL_NANO_BIBLE_PAIRS = 6000


def distill_nano(sentences_path, bible_path, weather_train_path, out_path):
    """The same sources with 6,000 Bible pairs instead of ~29,000, for the nano MiniLM: a
    smaller set that a run goes through more than once (the teacher cache then serves every
    later epoch), in which the weather utterances are 17 % of the sentences instead of 4 %."""
    distill(sentences_path, bible_path, weather_train_path, out_path, bible_pairs=DISTILL_NANO_BIBLE_PAIRS)


# ---------------------------------------------------------------------------
# lfw faces (scikit-image's lfw_subset) for the emotion CNN


LFW_MEMBER = "skimage/data/lfw_subset.npy"
LFW_FACES = 100            # images 0-99 are faces, 100-199 are not
LFW_CALIBRATION = 32       # faces 0-31 calibrate; faces 32-99 evaluate
LFW_SIZE = 64


def _read_npy_float64(data):
    """A little-endian float64 C-order .npy array: (shape, flat values)."""
    if data[:6] != b"\x93NUMPY":
        fail("lfw: member is not a .npy file")
    major = data[6]
    header_len = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12)
    header = data[start:start + header_len].decode("latin1")
    if "'<f8'" not in header or "'fortran_order': False" not in header:
        fail(f"lfw: unexpected array header {header.strip()}")
    shape = tuple(int(v) for v in re.search(r"'shape': \(([^)]*)\)", header).group(1).split(",") if v.strip())
    body = data[start + header_len:]
    count = functools.reduce(lambda a, b: a * b, shape, 1)
    return shape, struct.unpack(f"<{count}d", body[:8 * count])


def _resize_bilinear(image, size, out):
    """skimage.transform.resize(image, (out, out)) for an upscale: bilinear (order 1) on pixel
    centres (scipy's zoom with grid_mode), skimage's mode 'reflect' (scipy 'mirror': index -1 is
    index 1), clipped to the input's range. Anti-aliasing does nothing when enlarging."""
    def taps(o):
        x = (o + 0.5) * size / out - 0.5
        i = int(x // 1)
        f = x - i

        def mirror(k):
            return -k if k < 0 else (2 * (size - 1) - k if k > size - 1 else k)
        return mirror(i), mirror(i + 1), f
    lo, hi = min(image), max(image)
    rows = [taps(o) for o in range(out)]
    result = []
    for r0, r1, fr in rows:
        for c0, c1, fc in rows:
            top = image[r0 * size + c0] * (1 - fc) + image[r0 * size + c1] * fc
            bottom = image[r1 * size + c0] * (1 - fc) + image[r1 * size + c1] * fc
            result.append(min(max(top * (1 - fr) + bottom * fr, lo), hi))
    return result


def lfw(archive_path, calibration_path, evaluation_path):
    """Faces of lfw_subset resized to 64x64 and rounded to uint8 (as make_keras_cnn_goldens.py
    does), written as fer's model input (p / 255 - 0.5) * 2, one face a line:
    `lfw_<index><TAB><4096 values>` (row-major 64x64, NHWC with one channel)."""
    archive = Archive(archive_path)
    if LFW_MEMBER not in archive.names:
        fail(f"{archive_path} has no {LFW_MEMBER}")
    shape, values = _read_npy_float64(archive.read(LFW_MEMBER))
    if len(shape) != 3 or shape[1] != shape[2] or shape[0] < LFW_FACES:
        fail(f"lfw: expected [200, 25, 25] images, found {list(shape)}")
    size = shape[1]
    lines = []
    for index in range(LFW_FACES):
        image = values[index * size * size:(index + 1) * size * size]
        pixels = [min(max(int(round(v * 255)), 0), 255) for v in _resize_bilinear(image, size, LFW_SIZE)]
        features = ",".join(repr(float(struct.unpack("<f", struct.pack("<f", (p / 255 - 0.5) * 2))[0])) for p in pixels)
        lines.append(f"lfw_{index}\t{features}\n")
    write_atomically(calibration_path, "".join(lines[:LFW_CALIBRATION]).encode("ascii"))
    write_atomically(evaluation_path, "".join(lines[LFW_CALIBRATION:]).encode("ascii"))
    print(f"{calibration_path}: faces 0-{LFW_CALIBRATION - 1} of lfw_subset at {LFW_SIZE}x{LFW_SIZE}")
    print(f"{evaluation_path}: faces {LFW_CALIBRATION}-{LFW_FACES - 1} (from {os.path.basename(archive_path)})")


# Unlabelled training images for distilling fer's CNN: the calibration faces, lfw_subset's 100
# non-face crops and grey crops of the photographs scikit-image ships. Never faces 32-99.

UNLABELLED_PHOTOS = ["astronaut", "camera", "coins", "moon", "chelsea", "coffee", "brick", "grass", "gravel",
                     "cell", "clock_motion", "motorcycle_left", "ihc", "color", "page", "text"]
UNLABELLED_CROPS = 10      # per photograph
UNLABELLED_SEED = 0


def _read_png_grey(data, name):
    """An 8-bit non-interlaced PNG (grey, grey+alpha, RGB or RGBA) as (width, height, grey
    values 0-255 as floats), RGB weighted as skimage.color.rgb2gray (0.2125, 0.7154, 0.0721)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"lfw-unlabelled: {name} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 4: 2, 2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        fail(f"lfw-unlabelled: {name}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    grey = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
        previous = line
        if channels <= 2:
            grey.extend(float(line[x * channels]) for x in range(width))
        else:
            grey.extend(0.2125 * line[x * channels] + 0.7154 * line[x * channels + 1] + 0.0721 * line[x * channels + 2]
                        for x in range(width))
    return width, height, grey


def _crop_mean(integral, width, top, left, side, out):
    """The side x side square at (top, left) averaged down to out x out (box filter)."""
    result = []
    for r in range(out):
        y0, y1 = top + r * side // out, top + (r + 1) * side // out
        for c in range(out):
            x0, x1 = left + c * side // out, left + (c + 1) * side // out
            total = (integral[y1 * (width + 1) + x1] - integral[y0 * (width + 1) + x1]
                     - integral[y1 * (width + 1) + x0] + integral[y0 * (width + 1) + x0])
            result.append(total / ((y1 - y0) * (x1 - x0)))
    return result


def _fer_features(pixels):
    """uint8 pixels as fer's model input (p / 255 - 0.5) * 2, float32 values."""
    return ",".join(repr(float(struct.unpack("<f", struct.pack("<f", (p / 255 - 0.5) * 2))[0])) for p in pixels)


def lfw_unlabelled(archive_path, calibration_path, out_path):
    """The calibration faces (copied from CALIBRATION.tsv), lfw_subset's non-faces 100-199 at
    64x64 (as `lfw` resizes faces), and UNLABELLED_CROPS square grey crops of each photograph
    in UNLABELLED_PHOTOS (side drawn from 64 px to the photograph's shorter side, seeded,
    box-averaged to 64x64): unlabelled images for distillation, one a line as `lfw` writes."""
    archive = Archive(archive_path)
    if LFW_MEMBER not in archive.names:
        fail(f"{archive_path} has no {LFW_MEMBER}")
    with open(calibration_path, encoding="ascii") as f:
        lines = [line if line.endswith("\n") else line + "\n" for line in f if line.strip()]
    if len(lines) != LFW_CALIBRATION:
        fail(f"lfw-unlabelled: {calibration_path} has {len(lines)} faces, expected {LFW_CALIBRATION}")
    shape, values = _read_npy_float64(archive.read(LFW_MEMBER))
    size = shape[1]
    for index in range(LFW_FACES, shape[0]):
        image = values[index * size * size:(index + 1) * size * size]
        pixels = [min(max(int(round(v * 255)), 0), 255) for v in _resize_bilinear(image, size, LFW_SIZE)]
        lines.append(f"lfw_{index}\t{_fer_features(pixels)}\n")
    rng = random.Random(UNLABELLED_SEED)
    for name in UNLABELLED_PHOTOS:
        member = f"skimage/data/{name}.png"
        if member not in archive.names:
            fail(f"{archive_path} has no {member}")
        width, height, grey = _read_png_grey(archive.read(member), member)
        integral = [0.0] * ((width + 1) * (height + 1))
        for y in range(height):
            row = 0.0
            for x in range(width):
                row += grey[y * width + x]
                integral[(y + 1) * (width + 1) + x + 1] = integral[y * (width + 1) + x + 1] + row
        for k in range(UNLABELLED_CROPS):
            side = rng.randint(LFW_SIZE, min(width, height))
            top, left = rng.randint(0, height - side), rng.randint(0, width - side)
            pixels = [min(max(int(round(v)), 0), 255) for v in _crop_mean(integral, width, top, left, side, LFW_SIZE)]
            lines.append(f"{name}_{k}\t{_fer_features(pixels)}\n")
    write_atomically(out_path, "".join(lines).encode("ascii"))
    print(f"{out_path}: {LFW_CALIBRATION} calibration faces, lfw_subset's non-faces {LFW_FACES}-{shape[0] - 1}, "
          f"{UNLABELLED_CROPS} crops of each of {len(UNLABELLED_PHOTOS)} photographs ({len(lines)} images)")


def main(argv):
    commands = {"digits": (digits, 2), "pydoc": (pydoc, 2), "pydoc-split": (pydoc_split, 3), "bible-lm-split": (bible_lm_split, 3),
                "minilm": (minilm, 2),
                "bible": (bible, 2), "weather": (weather, 3), "distill": (distill, 4),
                "distill-nano": (distill_nano, 4), "lfw": (lfw, 3),
                "lfw-unlabelled": (lfw_unlabelled, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    function, _ = commands[argv[1]]
    function(*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
