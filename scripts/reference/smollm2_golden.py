#!/usr/bin/env python3
"""Golden outputs of SmolLM2-135M-Instruct (Q4_1 GGUF) from transformers, for nanoforge's parity tests.

Run by hand (not by CI) after set-up put the model in .cache/models/, in the bench venv:
    .venv-bench/bin/python scripts/reference/smollm2_golden.py
transformers reads the GGUF itself (`from_pretrained(folder, gguf_file=…)`): it dequantizes every
tensor to float32 with gguf-py and undoes llama.cpp's q/k row permutation; the forward pass runs in
float32 with eager attention. Writes Fixtures/models/smollm2/golden.safetensors:
  tokens          I64 [4, 64]      four text windows (CPython's pydoc topics, tokenized by the
                                   GGUF's own tokenizer through transformers)
  argmax          I64 [4, 64]      the most probable next token at every position
  logsumexp       F32 [4, 64]      log Σ exp(logits) per position (sums up each whole row)
  target_logprob  F32 [4, 63]      log p(tokens[t+1] | tokens[…t]): the perplexity's terms
  perplexity      F64 [1]          exp(−mean(target_logprob)) over the 4 × 63 predictions
  columns         I64 [192]        vocabulary ids 0, 256, 512, … whose logits are stored in full
  column_logits   F32 [4, 64, 192]
  top_ids         I64 [4, 64, 8]   the 8 largest logits per position, and their values
  top_logits      F32 [4, 64, 8]
  prompt_ids      I64 [Σ lengths]  four chat prompts (the GGUF's chat template), concatenated
  prompt_lengths  I64 [4]
  greedy          I64 [4, 64]      transformers' greedy continuation of each prompt, 64 new tokens
                                   (no stop at end-of-sequence), decoded step by step with its KV cache
The metadata holds the prompt texts as JSON (`prompts`). Token ids make the parity tests
independent of nanoforge's tokenizer.
"""
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pydoc_data.topics
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDER = os.path.join(ROOT, ".cache", "models", "SmolLM2-135M-Instruct")
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = os.path.join(ROOT, "Fixtures", "models", "smollm2", "golden.safetensors")

TOPICS = ["assert", "for", "lambda", "with"]
PROMPTS = [
    "What is the capital of France?",
    "Write a Python function that reverses a string.",
    "Explain in two sentences why the sky is blue.",
    "List three uses of a paperclip.",
]


def main():
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(FOLDER, gguf_file=NAME)
    model = AutoModelForCausalLM.from_pretrained(FOLDER, gguf_file=NAME, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    print("tied:", model.config.tie_word_embeddings,
          "same tensor:", model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr())

    windows = []
    for topic in TOPICS:
        ids = tokenizer(pydoc_data.topics.topics[topic], add_special_tokens=False)["input_ids"]
        windows.append(ids[:64])
    tokens = torch.tensor(windows, dtype=torch.int64)
    with torch.no_grad():
        logits = model(tokens).logits.float()                                # [4, 64, V]
    logprobs = torch.log_softmax(logits, dim=-1)
    target = logprobs[:, :-1, :].gather(-1, tokens[:, 1:, None])[..., 0]      # [4, 63]
    perplexity = torch.exp(-target.double().mean())
    columns = torch.arange(0, logits.shape[-1], 256, dtype=torch.int64)
    top = logits.topk(8, dim=-1)
    print(f"perplexity {perplexity.item():.6f} over {target.numel()} predictions")

    prompt_ids, lengths, greedy = [], [], []
    for text in PROMPTS:
        chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(chat, add_special_tokens=False)["input_ids"]
        prompt_ids += ids
        lengths.append(len(ids))
        with torch.no_grad():
            out = model(torch.tensor([ids]), use_cache=True)
            past, new = out.past_key_values, []
            for _ in range(64):
                nxt = int(out.logits[0, -1].argmax())
                new.append(nxt)
                out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
        greedy.append(new)
        print(repr(text), "->", repr(tokenizer.decode(new)))

    save_file({
        "tokens": tokens, "argmax": logits.argmax(-1), "logsumexp": torch.logsumexp(logits, -1).contiguous(),
        "target_logprob": target.contiguous(), "perplexity": perplexity.reshape(1),
        "columns": columns, "column_logits": logits[:, :, columns].contiguous(),
        "top_ids": top.indices.contiguous(), "top_logits": top.values.contiguous(),
        "prompt_ids": torch.tensor(prompt_ids, dtype=torch.int64), "prompt_lengths": torch.tensor(lengths, dtype=torch.int64),
        "greedy": torch.tensor(greedy, dtype=torch.int64),
    }, OUT, metadata={"prompts": json.dumps(PROMPTS), "topics": json.dumps(TOPICS), "model": NAME})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
