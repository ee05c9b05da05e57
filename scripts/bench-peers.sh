#!/usr/bin/env bash
# Runs Keel's benchmark beside the peers of ../shared/peers in one session and prints
# every RESULT line, so ratios compare runs on the same machine minutes apart.
#
#   scripts/bench-peers.sh                 # W1, W2 (Keel, rust-autograd, Keras on JAX) and
#                                          # W4 (Keel, PyTorch, Keras on JAX)
#   WORKLOADS="w4" scripts/bench-peers.sh  # only some of them
#   SKIP_KERAS=1 scripts/bench-peers.sh
#   TORCH_PYTHON=/path/to/venv/bin/python scripts/bench-peers.sh
#
# Needs: ../shared/peers (rust-autograd builds with cargo; Keras/JAX come from PyPI into
# a throw-away venv, about 300 MB, only when SKIP_KERAS is unset; PEER_VENV names an
# existing one). PyTorch is not installed by this script: PyPI's build is the CUDA one,
# which runs on the CPU once its ~2.4 GB of CUDA wheels are there
# (`python3 -m venv V && V/bin/pip install torch==2.15.0 numpy`, then TORCH_PYTHON=V/bin/python).
# W4 runs `torch_bench.py --workload w4 --threads 2` with TORCH_PYTHON (default the Keras
# venv's python) when that python imports torch, and says it skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=../shared/peers
out=${OUT:-target/bench-peers}
mkdir -p "$out"

cargo build --release -q -p keel-bench
workloads=${WORKLOADS:-w1 w2 w4}
if [[ " $workloads " == *" w1 "* || " $workloads " == *" w2 "* ]]; then
  cargo build --release -q --manifest-path "$peers/rust-autograd/Cargo.toml" --target-dir "$out/rust-autograd"
fi
venv=${PEER_VENV:-$out/venv}
if [ -z "${SKIP_KERAS:-}" ]; then
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q keras==3.15.1 jax==0.10.2 jaxlib==0.10.2; }
fi
torch_python=${TORCH_PYTHON:-$venv/bin/python}

run() { # name, command...
  local name=$1; shift
  echo "== $name" >&2
  /usr/bin/time -f "peak_rss_kib=%M minor_faults=%R" "$@" 2> >(grep -E "peak_rss|minor" >&2) | grep -E "^RESULT" | sed "s/^RESULT /RESULT $name /"
}

for w in $workloads; do
  run "keel-$w" target/release/keel-bench "$w"
  case $w in
    w1|w2) run "rust-autograd-$w" env RAYON_NUM_THREADS=2 "$out/rust-autograd/release/autograd-bench" "$w" ;;
    w4)
      if [ -x "$torch_python" ] && "$torch_python" -c "import torch" 2>/dev/null; then
        run "pytorch-$w" "$torch_python" "$peers/python/torch_bench.py" --workload "$w" --threads 2
      else
        echo "== pytorch-$w skipped: $torch_python does not import torch (set TORCH_PYTHON)" >&2
      fi ;;
  esac
  if [ -z "${SKIP_KERAS:-}" ]; then
    run "keras-jax-$w" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE KERAS_BACKEND=jax "$venv/bin/python" "$peers/python/keras_bench.py" --workload "$w"
  fi
done
