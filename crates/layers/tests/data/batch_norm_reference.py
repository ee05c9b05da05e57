"""Keras's BatchNormalization on fixed inputs: the numbers in tests/batch_norm.rs.

KERAS_BACKEND=jax python batch_norm_reference.py   (keras 3.15.1)
"""
import numpy as np
import keras

x = np.array([[[0.5, -1.0, 2.0], [1.5, 0.0, -2.0]],
              [[-0.5, 3.0, 1.0], [2.5, -1.0, 0.5]],
              [[0.0, 1.0, -1.5], [1.0, 2.0, 0.25]]], dtype=np.float32)  # [3, 2, 3]
bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
bn.build(x.shape)
bn.gamma.assign(np.array([1.5, 0.5, -1.0], dtype=np.float32))
bn.beta.assign(np.array([0.1, -0.2, 0.3], dtype=np.float32))
np.set_printoptions(precision=9, floatmode="unique")
print("train", np.asarray(bn(x, training=True)).ravel().tolist())
print("moving_mean", np.asarray(bn.moving_mean).tolist())
print("moving_variance", np.asarray(bn.moving_variance).tolist())
print("eval", np.asarray(bn(x, training=False)).ravel().tolist())
