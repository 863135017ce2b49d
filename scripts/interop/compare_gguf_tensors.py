#!/usr/bin/env python3
"""Compares the tensors of two GGUF files by name: type, shape and stored bytes.

Prints one line per kind of difference and a summary; exits 1 when a tensor present in both
files differs in type or bytes, or when a quantized tensor is missing from one of them.

Usage: compare_gguf_tensors.py A.gguf B.gguf
"""

import sys

import numpy as np
from gguf import GGUFReader


def tensors(path):
    return {t.name: t for t in GGUFReader(path).tensors}


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    a, b = tensors(a_path), tensors(b_path)
    identical, problems = 0, []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            where = b_path if name not in b else a_path
            problems.append(f"{name}: missing from {where}")
            continue
        ta, tb = a[name], b[name]
        if ta.tensor_type != tb.tensor_type or list(ta.shape) != list(tb.shape):
            problems.append(f"{name}: {ta.tensor_type.name} {list(ta.shape)} vs {tb.tensor_type.name} {list(tb.shape)}")
            continue
        da, db = np.asarray(ta.data).view(np.uint8).ravel(), np.asarray(tb.data).view(np.uint8).ravel()
        if da.size != db.size or not np.array_equal(da, db):
            differ = int((da != db).sum()) if da.size == db.size else -1
            problems.append(f"{name} ({ta.tensor_type.name}): {differ} of {da.size} bytes differ")
            continue
        identical += 1
    print(f"{identical} tensors byte-identical, {len(problems)} differ or are missing")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
