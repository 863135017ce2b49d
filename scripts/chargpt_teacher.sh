#!/bin/sh
# Trains the teacher of Recipes/chargpt-distill.yaml with nanoforge itself: the character-level GPT,
# 4 layers × width 256, 4 heads, context 64, on the first 90 % of .cache/data/pydoc-topics.txt
# (`make setup`), saved with train.txt / heldout.txt to out/chargpt-teacher. 400 steps (STEPS=N to
# change) of 32 windows: measured 2026-12-02 at 344 s of CPU time (23 min wall while other jobs
# loaded both cores), held-out loss 1.4355 nats (perplexity 4.20 on 64 random held-out windows).
set -eu
cd "$(dirname "$0")/.."
exec .build/release/nanoforge demo --chargpt --layers 4 --width 256 --heads 4 --context 64 \
    --batch-size 32 --steps "${STEPS:-400}" --seed 7 --save out/chargpt-teacher
