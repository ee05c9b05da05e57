"""Prints the expected values of crates/autograd/tests/conv_reference.rs, from Keras 3
(redirect the output to crates/autograd/tests/data/conv_reference_values.rs).

Run with Keras 3 on JAX (KERAS_BACKEND=jax), e.g.
    KERAS_BACKEND=jax python crates/autograd/tests/data/conv_reference.py
Inputs are fixed formulas the Rust test recomputes; outputs and the gradients of
sum(output * projection) are printed as Rust constants (row-major, channels last).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax
import jax.numpy as jnp
import keras
import numpy as np


def pattern(shape, mul, add, mod, div):
    """((i * mul + add) % mod) / div - 1.5 for the flat index i (exact in f32)."""
    n = int(np.prod(shape))
    i = np.arange(n)
    return (((i * mul + add) % mod) / div - 1.5).astype(np.float32).reshape(shape)


X = pattern((2, 5, 6, 2), 37, 0, 29, 9.0)
K = pattern((3, 2, 2, 3), 11, 5, 23, 7.0)
B = np.array([0.1, -0.2, 0.3], np.float32)


def emit(name, arr):
    # The shortest decimal that reads back as the same f32.
    vals = [str(v) for v in np.asarray(arr, np.float32).ravel()]
    print(f"const {name}: [f32; {len(vals)}] = [")
    for i in range(0, len(vals), 6):
        print("    " + ", ".join(vals[i:i + 6]) + ",")
    print("];")


def conv(name, **kw):
    layer = keras.layers.Conv2D(3, (3, 2), **kw)
    layer.build(X.shape)
    layer.set_weights([K, B])
    y = np.asarray(layer(X))
    print(f"// {name}: Conv2D(3, (3, 2), {kw}) -> {y.shape}")
    emit(f"{name.upper()}", y)
    proj = pattern(y.shape, 7, 3, 13, 5.0)

    def loss(x, k):
        return jnp.sum(keras.ops.conv(x, k, strides=kw.get("strides", 1), padding=kw.get("padding", "valid"),
                                      dilation_rate=kw.get("dilation_rate", 1)) * proj)

    gx, gk = jax.grad(loss, argnums=(0, 1))(jnp.asarray(X), jnp.asarray(K))
    emit(f"{name.upper()}_GRAD_X", gx)
    emit(f"{name.upper()}_GRAD_K", gk)


def pool(name, cls, **kw):
    layer = cls(**kw)
    y = np.asarray(layer(X))
    print(f"// {name}: {cls.__name__}({kw}) -> {y.shape}")
    emit(f"{name.upper()}", y)
    proj = pattern(y.shape, 7, 3, 13, 5.0)
    gx = jax.grad(lambda x: jnp.sum(layer(x) * proj))(jnp.asarray(X))
    emit(f"{name.upper()}_GRAD_X", gx)


print("// Printed by conv_reference.py (Keras 3 on JAX); included by ../conv_reference.rs.\n")
print(f"// keras {keras.__version__}, jax {jax.__version__}, backend {keras.backend.backend()}")
conv("conv_valid")
conv("conv_same", padding="same")
conv("conv_strides_2_same", strides=2, padding="same")
conv("conv_strides_2_valid", strides=2)
conv("conv_dilation_2", dilation_rate=2)
conv("conv_dilation_2_same", dilation_rate=2, padding="same")
pool("max_valid", keras.layers.MaxPooling2D, pool_size=2)
pool("max_same", keras.layers.MaxPooling2D, pool_size=3, strides=2, padding="same")
pool("avg_valid", keras.layers.AveragePooling2D, pool_size=2)
pool("avg_same", keras.layers.AveragePooling2D, pool_size=3, strides=2, padding="same")
pool("avg_same_stride_1", keras.layers.AveragePooling2D, pool_size=2, strides=1, padding="same")
pool("global_avg", keras.layers.GlobalAveragePooling2D)
pool("global_max", keras.layers.GlobalMaxPooling2D)
