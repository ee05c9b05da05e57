#!/usr/bin/env bash
# Runs Keel's benchmark beside the peers of ../shared/peers in one session and prints
# every RESULT line, so ratios compare runs on the same machine minutes apart.
#
#   scripts/bench-peers.sh            # W1 and W2: Keel, rust-autograd, Keras on JAX
#   SKIP_KERAS=1 scripts/bench-peers.sh
#
# Needs: ../shared/peers (rust-autograd builds with cargo; Keras/JAX come from PyPI into
# a throw-away venv, about 300 MB, only when SKIP_KERAS is unset).
set -euo pipefail
cd "$(dirname "$0")/.."
peers=../shared/peers
out=${OUT:-target/bench-peers}
mkdir -p "$out"

cargo build --release -q -p keel-bench
cargo build --release -q --manifest-path "$peers/rust-autograd/Cargo.toml" --target-dir "$out/rust-autograd"
if [ -z "${SKIP_KERAS:-}" ]; then
  venv=${PEER_VENV:-$out/venv}
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q keras==3.15.1 jax==0.10.2 jaxlib==0.10.2; }
fi

run() { # name, command...
  local name=$1; shift
  echo "== $name" >&2
  /usr/bin/time -f "peak_rss_kib=%M minor_faults=%R" "$@" 2> >(grep -E "peak_rss|minor" >&2) | grep -E "^RESULT" | sed "s/^RESULT /RESULT $name /"
}

for w in w1 w2; do
  run "keel-$w" target/release/keel-bench "$w"
  run "rust-autograd-$w" env RAYON_NUM_THREADS=2 "$out/rust-autograd/release/autograd-bench" "$w"
  if [ -z "${SKIP_KERAS:-}" ]; then
    run "keras-jax-$w" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE KERAS_BACKEND=jax "$venv/bin/python" "$peers/python/keras_bench.py" --workload "$w"
  fi
done
