#!/usr/bin/env python3
"""PyTorch CPU reference for one distillation step of `nanoforge bench distill`.

The pair of Recipes/minilm-nano.yaml's `distill` stage: all-MiniLM-L6-v2 as teacher and a
3-layer student made of its layers 0, 2 and 4 (weights copied). One step = teacher forward
(torch.no_grad, mean pooling, L2 normalisation), student forward, the stage's loss
(1 - cosine + 100 * MSE of the normalised sentence embeddings), backward, global-norm gradient
clipping at 1 and an AdamW update (weight decay 0.01, the learning rate of --learning-rate on
nanoforge's cosine decay over all the batches, no warm-up). Dropout is off, as in nanoforge.

The batches are given as token ids in a JSON file (--batches: [[ids of sentence, ...], ...], one
list per step), written by nanoforge from the same sentences and the same grouping its training
loop uses, so both sides pad to the same lengths. The first --warmup batches are untimed steps,
every later batch a timed one (perf_counter), as on nanoforge's side; the figure is the median. Prints one JSON object:
  {"ms": median per step, "sentences_per_second": batch / median, "steps": N, "threads": N,
   "torch": version, "loss_first": ..., "loss_last": ...}
"""
import argparse
import copy
import json
import math
import os
import statistics
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch
import torch.nn.functional as F
from transformers import BertModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--batches", required=True)
    p.add_argument("--layers", default="0,2,4")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.batches) as f:
        batches = json.load(f)
    teacher = BertModel.from_pretrained(args.model, add_pooling_layer=False,
                                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).eval()
    student = copy.deepcopy(teacher)
    keep = [int(i) for i in args.layers.split(",")]
    student.encoder.layer = torch.nn.ModuleList([student.encoder.layer[i] for i in keep])
    student.config.num_hidden_layers = len(keep)
    student.train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=args.learning_rate, weight_decay=0.01)
    done = [0]

    def tensors(batch):
        t = max(len(x) for x in batch)
        x = torch.zeros(len(batch), t, dtype=torch.long)
        m = torch.zeros(len(batch), t, dtype=torch.long)
        for i, seq in enumerate(batch):
            x[i, : len(seq)] = torch.tensor(seq)
            m[i, : len(seq)] = 1
        return x, m

    def embed(model, x, m):
        h = model(input_ids=x, attention_mask=m).last_hidden_state
        mf = m.unsqueeze(-1).float()
        e = (h * mf).sum(1) / mf.sum(1).clamp(min=1e-9)
        return F.normalize(e, p=2, dim=1)

    def step(batch):
        x, m = tensors(batch)
        with torch.no_grad():
            target = embed(teacher, x, m)
        e = embed(student, x, m)
        loss = (1 - (e * target).sum(1)).mean() + 100 * F.mse_loss(e, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        for group in optimizer.param_groups:  # nanoforge's LearningRateSchedule: cosine to 0, no warm-up
            group["lr"] = args.learning_rate * 0.5 * (1 + math.cos(math.pi * done[0] / len(batches)))
        optimizer.step()
        done[0] += 1
        return loss.item()

    losses = [step(b) for b in batches[: args.warmup]]
    times = []
    for b in batches[args.warmup :]:
        t0 = time.perf_counter()
        losses.append(step(b))
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(json.dumps({
        "ms": ms, "sentences_per_second": len(batches[0]) / (ms / 1000), "steps": len(times),
        "threads": args.threads, "torch": torch.__version__, "loss_first": losses[0], "loss_last": losses[-1],
    }))


if __name__ == "__main__":
    sys.exit(main())
