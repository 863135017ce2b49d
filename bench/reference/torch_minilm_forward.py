#!/usr/bin/env python3
"""PyTorch CPU reference for the all-MiniLM-L6-v2 forward pass of `nanoforge bench minilm`.

Tokenizes the given sentences with the model's own tokenizer.json (truncation at --max-length),
then times the encoder forward plus mean pooling and L2 normalisation (transformers' BertModel,
fp32, torch.inference_mode) at batch 1 (each of the first --single sentences, one at a time) and
at batch 32 (consecutive groups of 32, padded to the longest in the group). Prints JSON:
  {"batch1_ms": median per sentence, "batch32_ms": median per batch, "tokens_batch1": mean tokens,
   "threads": N, "torch": version}
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch
from tokenizers import Tokenizer
from transformers import BertModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--sentences", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--single", type=int, default=64)
    p.add_argument("--batches", type=int, default=6)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.enable_truncation(max_length=args.max_length)
    tok.no_padding()
    with open(args.sentences, encoding="utf-8") as f:
        sentences = [l.strip() for l in f if l.strip()]
    ids = [tok.encode(s).ids for s in sentences]
    model = BertModel.from_pretrained(args.model, add_pooling_layer=False).eval()

    def embed(batch):
        t = max(len(x) for x in batch)
        x = torch.zeros(len(batch), t, dtype=torch.long)
        m = torch.zeros(len(batch), t, dtype=torch.long)
        for i, seq in enumerate(batch):
            x[i, : len(seq)] = torch.tensor(seq)
            m[i, : len(seq)] = 1
        h = model(input_ids=x, attention_mask=m).last_hidden_state
        mf = m.unsqueeze(-1).float()
        e = (h * mf).sum(1) / mf.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(e, p=2, dim=1)

    def timed(batches, warmup=3):
        for b in batches[:warmup]:
            embed(b)
        times = []
        for b in batches:
            t0 = time.perf_counter()
            embed(b)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    with torch.inference_mode():
        singles = [[s] for s in ids[: args.single]]
        b1 = timed(singles)
        groups = [ids[i : i + 32] for i in range(0, 32 * args.batches, 32)]
        b32 = timed(groups, warmup=1)
    print(json.dumps({
        "batch1_ms": b1, "batch32_ms": b32,
        "tokens_batch1": sum(len(s[0]) for s in singles) / len(singles),
        "threads": args.threads, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
