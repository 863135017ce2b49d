#!/usr/bin/env python3
"""Runs a nanoforge `model.tflite` in LiteRT and compares it with nanoforge's integer reference.

    check_tflite.py MODEL.tflite REFERENCE.tsv [--golden OUT.tsv]

REFERENCE.tsv is what `nanoforge export --format tflite --evaluate E --tflite-reference R` writes:
a header with the grids, then per input the int8 input codes and nanoforge's int8 logits. Each
input's codes go into LiteRT as they are, with three kernel sets:
  ref      the reference kernels (experimental_op_resolver_type=BUILTIN_REF)
  builtin  the optimized builtin kernels without delegates (BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  xnnpack  the default, XNNPACK delegate applied (AUTO)
and LiteRT's logits output (the file's last output) is compared with nanoforge's: inputs with
identical logits, max |difference| in int8 steps, top-1 agreement. The softmax output (the
first, when there are two) is compared with the float softmax of nanoforge's dequantized logits
on TFLite's int8 softmax grid (scale 1/256, zero point -128): max |difference| in steps.

Exit status 1 when the reference kernels' logits differ from nanoforge's on any input (the
claim of docs/formats.md), 0 otherwise; the other kernel sets are reported, not required.
With --golden, writes LiteRT's outputs per input as TSV (one column per kernel set and output).
"""
import argparse
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

RESOLVERS = [("ref", OpResolverType.BUILTIN_REF), ("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
             ("xnnpack", OpResolverType.AUTO)]


def read_reference(path):
    with open(path) as f:
        header = f.readline()
        assert header.startswith("# nanoforge integer reference:"), f"{path}: not a nanoforge reference file"
        grids = dict(kv.split("=") for kv in header.split(":", 1)[1].split())
        inputs, logits = [], []
        for line in f:
            codes, out = line.rstrip("\n").split("\t")
            inputs.append(np.array([int(v) for v in codes.split(",")], dtype=np.int8))
            logits.append(np.array([int(v) for v in out.split(",")], dtype=np.int8))
    return grids, np.stack(inputs), np.stack(logits)


def run(model, resolver, inputs):
    interpreter = Interpreter(model_path=model, experimental_op_resolver_type=resolver, num_threads=1)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outs = interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and all(o["dtype"] == np.int8 for o in outs), "input and outputs must be int8"
    results = [[] for _ in outs]
    for codes in inputs:
        interpreter.set_tensor(inp["index"], codes.reshape(inp["shape"]))
        interpreter.invoke()
        for k, o in enumerate(outs):
            results[k].append(interpreter.get_tensor(o["index"]).reshape(-1).copy())
    return inp, outs, [np.stack(r) for r in results]


def softmax_codes(logits, scale, zero_point):
    x = (logits.astype(np.float64) - zero_point) * scale
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return np.clip(np.rint(p * 256) - 128, -128, 127).astype(np.int32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("reference")
    parser.add_argument("--golden")
    args = parser.parse_args()

    grids, inputs, ours = read_reference(args.reference)
    n = len(inputs)
    expected_softmax = softmax_codes(ours, float(grids["logits_scale"]), int(grids["logits_zero_point"]))
    failed = False
    golden = {}
    for name, resolver in RESOLVERS:
        inp, outs, results = run(args.model, resolver, inputs)
        if name == "ref":
            q = inp["quantization"]
            print(f"{args.model}: input {inp['shape'].tolist()} int8 (scale {q[0]:.8g}, zero point {q[1]}), "
                  f"outputs {[o['name'] for o in outs]}; {n} inputs")
            assert np.float32(q[0]) == np.float32(grids["input_scale"]) and q[1] == int(grids["input_zero_point"]), "input grid differs"
        logits = results[-1].astype(np.int32)
        delta = np.abs(logits - ours.astype(np.int32))
        identical = int((delta.max(axis=1) == 0).sum())
        top1 = float((logits.argmax(axis=1) == ours.argmax(axis=1)).mean())
        line = (f"  {name:8s} logits: identical on {identical}/{n} inputs, max |delta| {int(delta.max())} steps, "
                f"top-1 agreement {100 * top1:.2f} %")
        golden[f"{name}_logits"] = logits
        if len(results) == 2:
            probabilities = results[0].astype(np.int32)
            d = np.abs(probabilities - expected_softmax)
            line += (f"; softmax vs float softmax of nanoforge's logits: max |delta| {int(d.max())} steps "
                     f"(of 1/256), top-1 agreement {100 * float((probabilities.argmax(axis=1) == ours.argmax(axis=1)).mean()):.2f} %")
            golden[f"{name}_probabilities"] = probabilities
        print(line)
        if name == "ref" and identical != n:
            failed = True
    if args.golden:
        with open(args.golden, "w") as f:
            keys = list(golden)
            f.write("# LiteRT outputs per input (int8), columns: " + " ".join(keys) + "\n")
            for i in range(n):
                f.write("\t".join(",".join(str(v) for v in golden[k][i]) for k in keys) + "\n")
    if failed:
        print("FAIL: LiteRT's reference kernels and nanoforge's integer reference differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
