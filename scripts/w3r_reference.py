"""W3r with global-norm clipping in plain JAX: the spread of test accuracy over seeds.

The workload of `examples/explosion.rs` (16 x Dense(256, relu), N(0, 0.1) kernels, zero
biases, Glorot-uniform softmax output, SGD lr 0.1, batch 64, global norm clipped at 1.0,
first 54,000 images for training), written as the bare algorithm so that its run-to-run
spread can be measured without any framework in between. Each seed draws its own initial
weights and batch order (NumPy), so the figures are a distribution, not one run.

`--keras-clamp` computes the loss as Keras 3 does for a softmax output on the JAX backend
(`from_logits=False`): probabilities clipped to [1e-7, 1 - 1e-7] before the log, so a sample
whose true class has p < 1e-7 gives no gradient. Without it the loss is the log-softmax
cross-entropy of PyTorch, Keras-on-TF and Keel.

    V=$(mktemp -d)/venv; python3 -m venv $V && $V/bin/pip install jax==0.10.2 jaxlib==0.10.2
    $V/bin/python scripts/w3r_reference.py --seeds 0 1 2 3 4 5 [--keras-clamp] [--epochs 2]
"""
import argparse
import gzip
import os
import statistics
import struct

import jax
import jax.numpy as jnp
import numpy as np

MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "mnist")


def read_idx(name):
    with gzip.open(os.path.join(MNIST, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load():
    x = read_idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = read_idx("train-labels-idx1-ubyte.gz").astype(np.int32)
    x_test = read_idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y_test = read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int32)
    return x[:54000], y[:54000], x_test, y_test


def init(rng):
    params, fan_in = [], 784
    for _ in range(16):
        params.append((rng.normal(0.0, 0.1, (fan_in, 256)).astype(np.float32), np.zeros(256, np.float32)))
        fan_in = 256
    limit = np.sqrt(6.0 / (256 + 10))
    params.append((rng.uniform(-limit, limit, (256, 10)).astype(np.float32), np.zeros(10, np.float32)))
    return [(jnp.array(w), jnp.array(b)) for w, b in params]


def logits(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def make_step(keras_clamp):
    def loss(params, x, y):
        z = logits(params, x)
        if keras_clamp:
            log_p = jnp.log(jnp.clip(jax.nn.softmax(z), 1e-7, 1.0 - 1e-7))
        else:
            log_p = jax.nn.log_softmax(z)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    @jax.jit
    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grads)))
        scale = jnp.minimum(1.0, 1.0 / (norm + 1e-6))  # PyTorch's clip_grad_norm_(1.0)
        return jax.tree_util.tree_map(lambda p, g: p - 0.1 * scale * g, params, grads)

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--keras-clamp", action="store_true")
    args = ap.parse_args()
    x, y, x_test, y_test = load()
    step = make_step(args.keras_clamp)
    accuracies = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        params = init(rng)
        for _ in range(args.epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), 64):
                idx = order[i:i + 64]
                params = step(params, jnp.array(x[idx]), jnp.array(y[idx]))
        predicted = np.argmax(np.asarray(logits(params, jnp.array(x_test))), axis=1)
        accuracies.append(float((predicted == y_test).mean()))
        print(f"seed {seed}: test accuracy {accuracies[-1]:.4f}", flush=True)
    spread = f"mean {statistics.mean(accuracies):.4f}, min {min(accuracies):.4f}, max {max(accuracies):.4f}"
    print(f"{'keras clamp' if args.keras_clamp else 'log-softmax'}: {spread}")


if __name__ == "__main__":
    main()
