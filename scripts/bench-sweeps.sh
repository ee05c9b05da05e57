#!/usr/bin/env bash
# Epoch time of Keel against batch size, hidden width and thread count (docs/performance.md).
#   scripts/bench-sweeps.sh > target/sweeps.txt
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p keel-bench
bench=target/release/keel-bench
median() { grep -o '"epoch_median":[0-9.]*' | cut -d: -f2; }
echo "batch_size epoch_median_s (W1 model, 3 epochs)"
for b in 32 64 128 256 512 1024; do echo "$b $($bench w1 --epochs 3 --batch-size "$b" | median)"; done
echo "hidden_width epoch_median_s (W1 shape 784-h-10, batch 128, 3 epochs)"
for h in 32 128 512 1024 2048; do echo "$h $($bench w1 --epochs 3 --batch-size 128 --hidden "$h" | median)"; done
echo "threads w1_epoch_median_s w2_epoch_median_s (default batch sizes, 3 epochs)"
for t in 1 2; do
  echo "$t $(KEEL_NUM_THREADS=$t $bench w1 --epochs 3 | median) $(KEEL_NUM_THREADS=$t $bench w2 --epochs 3 | median)"
done
