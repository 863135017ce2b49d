#!/usr/bin/env python3
"""PyTorch CPU reference for one training step of the `nanoforge bench core` decoder.

The model is the reference decoder of docs/benchmarks.md, built from plain modules so that
its op set matches nanoforge's: token and learned positional embeddings, pre-LayerNorm
blocks (causal self-attention written as matmul + mask + softmax, GELU-tanh MLP), a final
LayerNorm and an untied LM head; cross-entropy over all positions.

One step = forward, backward and AdamW update on a fixed random batch. After --warmup
untimed steps, --steps steps are timed one by one (perf_counter); the figure is the median.

Prints one JSON object on stdout:
  {"ms": median, "ms_min": ..., "ms_max": ..., "steps": ..., "threads": 2, "torch": "2.x",
   "parameters": 3454464, "config": {...}, "loss_first": ..., "loss_last": ...}
"""

import argparse
import json
import math
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, heads, seq_len, sdpa):
        super().__init__()
        assert d_model % heads == 0
        self.heads, self.head_dim, self.sdpa = heads, d_model // heads, sdpa
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.output = nn.Linear(d_model, d_model)
        mask = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("future", mask, persistent=False)  # True above the diagonal

    def forward(self, x):
        # x: [batch, seq, d_model]
        b, t, d = x.shape

        def split(y):  # [batch, seq, d_model] -> [batch, heads, seq, head_dim]
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            scores = scores.masked_fill(self.future[:t, :t], float("-inf"))
            y = torch.softmax(scores, dim=-1) @ v
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.output(y)


class Block(nn.Module):
    def __init__(self, d_model, heads, ff, seq_len, sdpa):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, heads, seq_len, sdpa)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, ff)
        self.fc2 = nn.Linear(ff, d_model)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Decoder(nn.Module):
    def __init__(self, vocab, seq_len, d_model, heads, ff, layers, sdpa):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads, ff, seq_len, sdpa) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)  # untied from self.tokens

    def forward(self, ids):
        # ids: [batch, seq] -> logits [batch, seq, vocab]
        t = ids.shape[1]
        x = self.tokens(ids) + self.positions(torch.arange(t, device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=15, help="timed steps (at least 10)")
    parser.add_argument("--sdpa", action="store_true",
                        help="use F.scaled_dot_product_attention instead of matmul + mask + softmax")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 10:
        parser.error("--steps must be at least 10")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Decoder(args.vocab, args.seq, args.d_model, args.heads, args.ff, args.layers, args.sdpa)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, args.vocab, (args.batch, args.seq), generator=generator)
    targets = torch.randint(0, args.vocab, (args.batch, args.seq), generator=generator)

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, args.vocab), targets.view(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    losses = [step() for _ in range(args.warmup)]
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step())
        times.append((time.perf_counter() - start) * 1e3)

    report = {
        "ms": round(statistics.median(times), 3),
        "ms_min": round(min(times), 3),
        "ms_max": round(max(times), 3),
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": {"layers": args.layers, "d_model": args.d_model, "heads": args.heads, "ff": args.ff,
                   "vocab": args.vocab, "seq": args.seq, "batch": args.batch,
                   "attention": "sdpa" if args.sdpa else "matmul+mask+softmax",
                   "activation": "gelu-tanh", "optimizer": "AdamW", "lr": args.lr,
                   "weight_decay": args.weight_decay},
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
