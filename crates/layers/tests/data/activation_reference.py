"""Keras's activations at fixed inputs: the reference for tests/activation_reference.rs.

Run with Keras 3.15.1 on JAX (float32 throughout) and keep the output beside this script:

    KERAS_BACKEND=jax python activation_reference.py > activation_reference.txt

Each activation is looked up by name, as `Dense(..., activation="gelu")` does, so the
parameters are the names' defaults (leaky_relu: negative_slope 0.2; elu: alpha 1.0; gelu:
approximate False). Lines are `input ...`, `weights ...`, then for each name
`<name> value ...` (f(x)) and `<name> gradient ...` (the gradient of sum(weights * f(x))
with respect to x, by jax.grad). Numbers are float32, printed to round-trip exactly.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.backend.backend() == "jax", keras.backend.backend()

NAMES = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "gelu",
    "leaky_relu",
    "elu",
    "silu",
    "swish",
    "softplus",
]

x = np.array(
    [-30, -12, -6, -3.5, -2, -1.25, -0.75, -0.3, -0.05, -1e-3, 0,
     1e-3, 0.05, 0.3, 0.75, 1.25, 2, 3.5, 6, 12, 30],
    dtype=np.float32,
)
weights = np.array([1.0 + 0.5 * (i % 3) for i in range(x.size)], dtype=np.float32)


def line(label, values):
    values = np.asarray(values, dtype=np.float32)
    print(label, " ".join(np.format_float_positional(v, unique=True) if v == 0 or 1e-4 <= abs(v) < 1e6
                          else np.format_float_scientific(v, unique=True) for v in values))


print("# keras", keras.__version__, "jax", jax.__version__, "backend", keras.backend.backend())
line("input", x)
line("weights", weights)
for name in NAMES:
    f = keras.activations.get(name)
    line(f"{name} value", f(jnp.asarray(x)))
    grad = jax.grad(lambda v: jnp.sum(jnp.asarray(weights) * f(v)))(jnp.asarray(x))
    line(f"{name} gradient", grad)
