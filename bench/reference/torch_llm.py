#!/usr/bin/env python3
"""PyTorch CPU reference for `nanoforge bench llm`: a Llama-family GGUF through transformers.

transformers reads the GGUF (`from_pretrained(folder, gguf_file=…)`, every tensor dequantized
to float32), and times, under torch.inference_mode with --threads threads:
  prompt processing  one forward pass over --prompt tokens with an empty KV cache, logits of
                     the last position only (`logits_to_keep=1`), median of --runs
  greedy decoding    a --decode-prompt token prefill, then --new tokens one at a time through the
                     KV cache (argmax each step, no stop token); the --new steps are timed,
                     median of --runs
The token ids are the same deterministic sequence nanoforge uses: id(i) = (i · 7919 + 13) mod V.
Prints JSON: {"prompt_tokens_per_s", "decode_tokens_per_s", "threads", "torch", "generated"}.
"""
import argparse
import json
import os
import statistics
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch
from transformers import AutoModelForCausalLM


def ids(count, vocabulary):
    return [(i * 7919 + 13) % vocabulary for i in range(count)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="a .gguf file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--decode-prompt", type=int, default=64)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder, name = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    vocabulary = model.config.vocab_size

    with torch.inference_mode():
        prompt = torch.tensor([ids(args.prompt, vocabulary)])
        times = []
        for run in range(args.runs + 1):
            start = time.perf_counter()
            model(prompt, use_cache=True, logits_to_keep=1)
            if run > 0:
                times.append(time.perf_counter() - start)
        prompt_rate = args.prompt / statistics.median(times)

        short = torch.tensor([ids(args.decode_prompt, vocabulary)])
        times, generated = [], []
        for run in range(args.runs + 1):
            out = model(short, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            token = int(out.logits[0, -1].argmax())
            new = [token]
            start = time.perf_counter()
            for _ in range(args.new):
                out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = int(out.logits[0, -1].argmax())
                new.append(token)
            if run > 0:
                times.append(time.perf_counter() - start)
            generated = new
        decode_rate = args.new / statistics.median(times)
    print(json.dumps({"prompt_tokens_per_s": prompt_rate, "decode_tokens_per_s": decode_rate, "threads": args.threads,
                      "torch": torch.__version__, "generated": generated[:16]}))


if __name__ == "__main__":
    main()
