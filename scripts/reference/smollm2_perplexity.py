#!/usr/bin/env python3
"""Reference perplexity of SmolLM2-135M-Instruct (Q4_1 GGUF) with transformers, on llama.cpp's
`llama-perplexity` chunks, to put beside `nanoforge eval MODEL --task perplexity`.

Run by hand (not by CI) after set-up, in the bench venv:
    .venv-bench/bin/python scripts/reference/smollm2_perplexity.py \
        --data .cache/data/pydoc-topics.txt --context 512 --limit 4
transformers reads the GGUF itself (`from_pretrained(folder, gguf_file=…)`, float32, eager
attention) and tokenizes with the GGUF's own tokenizer. The chunking is llama.cpp's, as
nanoforge's `LanguageModelChunks`: the whole file is tokenized once (no special tokens); chunk i
is tokens [i·N, (i+1)·N) for N = --context; when the tokenizer asks for BOS
(`tokenizer.ggml.add_bos_token`, false for SmolLM2) the chunk's first token is replaced by it;
each chunk runs on its own and only its second half is scored: the logits at positions
N/2 … N−2 predict the tokens at N/2+1 … N−1. Perplexity = exp(mean negative log-likelihood).
Prints one JSON object.
"""
import argparse
import json
import math
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gguf
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDER = os.path.join(ROOT, ".cache", "models", "SmolLM2-135M-Instruct")
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".cache", "data", "pydoc-topics.txt"))
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)

    reader = gguf.GGUFReader(os.path.join(FOLDER, NAME))
    field = reader.fields.get("tokenizer.ggml.add_bos_token")
    add_bos = bool(field.contents()) if field is not None else False
    bos = reader.fields["tokenizer.ggml.bos_token_id"].contents() if add_bos else None

    tokenizer = AutoTokenizer.from_pretrained(FOLDER, gguf_file=NAME)
    model = AutoModelForCausalLM.from_pretrained(FOLDER, gguf_file=NAME, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    with open(args.data, encoding="utf-8", newline="") as f:
        text = f.read()
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    n = args.context
    chunks = len(tokens) // n
    if args.limit is not None:
        chunks = min(chunks, args.limit)
    first = n // 2
    nll, count = 0.0, 0
    with torch.no_grad():
        for i in range(chunks):
            chunk = list(tokens[i * n:(i + 1) * n])
            if bos is not None:
                chunk[0] = bos
            logits = model(torch.tensor([chunk])).logits[0].double()
            logprobs = torch.log_softmax(logits, dim=-1)
            for j in range(first, n - 1):
                nll -= logprobs[j, chunk[j + 1]].item()
                count += 1
    print(json.dumps({"data": os.path.relpath(args.data, ROOT), "context": n, "chunks": chunks,
                      "text_tokens": len(tokens), "scored_tokens": count, "add_bos": add_bos,
                      "perplexity": math.exp(nll / count)}, indent=2))


if __name__ == "__main__":
    main()
