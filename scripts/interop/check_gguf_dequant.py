#!/usr/bin/env python3
"""Checks a GGUF file nanoforge exported against nanoforge's own decoding of it, with gguf-py.

Usage: check_gguf_dequant.py FILE.gguf REFERENCE.safetensors [--tokenizer-of ORIGINAL.gguf]

REFERENCE is written by `nanoforge export MODEL --format gguf --output FILE.gguf
--gguf-reference REFERENCE.safetensors` (`GGUFExporter.referenceWeights`): as F32, under the GGUF
tensor names and in GGUF row order, what nanoforge decodes each tensor to. For a tensor written
from a layer's ggml codes ("Q4_K codes" in `__metadata__["nanoforge.gguf_types"]`) and for F32
tensors that is the weight nanoforge evaluates (the exporter checks the codes decode to it bit for
bit, i.e. GGMLQuantizedTensor.dequantized()); for a tensor encoded at export (F16, or the
`--gguf-type` block type) it is nanoforge's decoding of that encoding.

Every tensor's `gguf.quants.dequantize` must equal the reference bit for bit, in the type the
exporter recorded. With --tokenizer-of, the tokenizer keys must equal those of ORIGINAL.gguf (the
model's source). Exit status 1 on any difference.
"""
import json
import sys

import numpy as np
import gguf
from gguf import quants
from safetensors import safe_open

TOKENIZER_KEYS = ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges",
                  "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                  "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.chat_template"]


def field_value(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    v = f.contents()
    return v.item() if isinstance(v, np.generic) else v


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--tokenizer-of"):
        print(__doc__, file=sys.stderr)
        return 2
    path, reference_path = argv[1], argv[2]
    reader = gguf.GGUFReader(path)
    with safe_open(reference_path, "np") as ref:
        origins = json.loads((ref.metadata() or {}).get("nanoforge.gguf_types", "{}"))
        reference = {name: ref.get_tensor(name) for name in ref.keys()}
    failures, counts = [], {}
    names = {t.name for t in reader.tensors}
    for missing in sorted(set(reference) - names):
        failures.append(f"{missing}: in the reference, not in the file")
    for t in reader.tensors:
        shape = [int(d) for d in reversed(t.shape)]
        deq = quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        want = reference.get(t.name)
        origin = origins.get(t.name, "?")
        kind = t.tensor_type.name
        if want is None:
            failures.append(f"{t.name}: not in the reference")
            continue
        if list(want.shape) != shape:
            failures.append(f"{t.name}: shape {shape}, reference {list(want.shape)}")
            continue
        label = f"{kind} codes" if origin.endswith(" codes") else f"{kind} encoded at export"
        if origin != "?" and origin.split(" ")[0] != kind:
            failures.append(f"{t.name}: stored as {kind}, the exporter recorded {origin}")
        expected = want.astype(np.float32)
        same = deq.view(np.uint32) == expected.view(np.uint32)
        if not same.all():
            i = int(np.argmin(same.ravel()))
            failures.append(f"{t.name} ({label}): {int((~same).sum())} of {same.size} values differ; "
                            f"first at {i}: gguf-py {deq.ravel()[i]!r}, nanoforge {expected.ravel()[i]!r}")
        counts[label] = counts.get(label, 0) + 1
    if len(argv) == 5:
        original = gguf.GGUFReader(argv[4])
        for key in TOKENIZER_KEYS:
            a, b = field_value(reader, key), field_value(original, key)
            if a != b:
                failures.append(f"{key}: differs from {argv[4]}" if b is not None else f"{key}: not in {argv[4]} but written")
        print(f"tokenizer keys: {'equal to' if not any(f.startswith('tokenizer') for f in failures) else 'DIFFERENT from'} {argv[4]}")
    summary = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
    print(f"{path}: {len(reader.tensors)} tensors checked with gguf-py {getattr(gguf, '__version__', '')}: {summary}")
    for f in failures:
        print("MISMATCH " + f)
    if failures:
        print(f"{len(failures)} mismatches")
        return 1
    print("every tensor dequantizes in gguf-py bit-identically to nanoforge's decoding (ggml codes: the evaluated weight)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
