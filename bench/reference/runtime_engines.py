#!/usr/bin/env python3
"""Reference engines for `nanoforge bench runtime`: one engine per process, so that its peak
resident memory is its own.

  --engine ort --onnx FILE      onnxruntime CPU session on an ONNX MiniLM (fetches the
                                `sentence_embedding` output our exporter writes: encoder, mean
                                pooling and L2 normalisation inside the graph)
  --engine torch --model DIR    PyTorch fp32 BertModel + mean pooling + L2 (torch.inference_mode)
  --engine quantize --onnx IN --output OUT
                                onnxruntime.quantization.quantize_dynamic(IN, OUT, QInt8 weights)

Inputs (--inputs JSON from the Swift side): {"batch1": [[ids]...], "batch32": [[[ids]...]...]},
every sequence the same length, attention mask all ones. Timing: warm-up runs, then the median
of one call per sample. Prints JSON: load_ms (session / model creation), batch1_ms, batch32_ms,
peak_rss_mb (ru_maxrss of this process), versions.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def timed(fn, samples, warmup):
    for s in samples[:warmup]:
        fn(s)
    times = []
    for s in samples:
        t0 = time.perf_counter()
        fn(s)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engine", required=True, choices=["ort", "torch", "quantize"])
    p.add_argument("--onnx")
    p.add_argument("--output")
    p.add_argument("--model")
    p.add_argument("--inputs")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    if args.engine == "quantize":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(args.onnx, args.output, weight_type=QuantType.QInt8)
        print(json.dumps({"output": args.output}))
        return

    import numpy as np
    with open(args.inputs) as f:
        inputs = json.load(f)
    batch1 = [np.array(x, dtype=np.int64)[None, :] for x in inputs["batch1"]]
    batch32 = [np.array(x, dtype=np.int64) for x in inputs["batch32"]]
    result = {"threads": args.threads}

    if args.engine == "ort":
        import onnxruntime as ort
        t0 = time.perf_counter()
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        result["load_ms"] = (time.perf_counter() - t0) * 1000
        names = {i.name for i in session.get_inputs()}

        def run(ids):
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.zeros_like(ids)
            return session.run(["sentence_embedding"], feed)[0]
        result["onnxruntime"] = ort.__version__
    else:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from transformers import BertModel
        torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        model = BertModel.from_pretrained(args.model, add_pooling_layer=False).eval()
        result["load_ms"] = (time.perf_counter() - t0) * 1000

        def run(ids):
            with torch.inference_mode():
                x = torch.from_numpy(ids)
                m = torch.ones_like(x)
                h = model(input_ids=x, attention_mask=m).last_hidden_state
                mf = m.unsqueeze(-1).float()
                e = (h * mf).sum(1) / mf.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(e, p=2, dim=1).numpy()
        result["torch"] = torch.__version__

    result["batch1_ms"] = timed(run, batch1, warmup=3)
    result["batch32_ms"] = timed(run, batch32, warmup=1)
    result["peak_rss_mb"] = peak_rss_mb()
    # The first sentence's embedding, for a cross-engine agreement check.
    result["embedding0"] = [float(v) for v in run(batch1[0])[0]]
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
