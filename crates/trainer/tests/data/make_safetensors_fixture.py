"""Writes tiny_numpy.safetensors, the fixture of crates/trainer/tests/safetensors_import.rs.

The file is written by Python's own `safetensors` package (its NumPy front end), so the
Rust test checks that Keel reads what the reference implementation writes: its header
(JSON, padded with spaces to a multiple of 8 bytes), dtypes, offsets and `__metadata__`.

The tensors fit `Sequential::new([3]).add(Dense::new(4)).add(Dense::new(2))`: a kernel
[3, 4], a bias [4], a kernel [4, 2], a bias [2]. They are keyed `param0` .. `param3`, the
position of the parameter in `model.named_params()`, so the test does not depend on how
Keel names parameters: it renames the keys in the header and leaves the data untouched.

Each tensor has another dtype: F32, F64, F16 and BF16. The values are chosen so their
f32 conversion is known exactly (the test spells them out).

Run from this directory with safetensors, numpy and ml_dtypes installed:

    python3 -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install safetensors numpy ml_dtypes
    /tmp/stvenv/bin/python make_safetensors_fixture.py

Written with safetensors 0.8.0, numpy 2.4.6, ml_dtypes 0.7.0.
"""

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

tensors = {
    # F32 kernel [3, 4]: (i - 5.5) / 8, exact in f32.
    "param0": ((np.arange(12, dtype=np.float32) - 5.5) / 8).reshape(3, 4),
    # F64 bias [4]: values that f32 cannot hold exactly, so the test sees the rounding.
    "param1": np.array([0.1, -0.2, 1.0 / 3.0, 1e-3], dtype=np.float64),
    # F16 kernel [4, 2]: the largest finite f16, the smallest normal and subnormal ones,
    # a negative zero, and plain values.
    "param2": np.array(
        [[0.5, -1.25], [65504.0, -6.103515625e-05], [5.960464477539063e-08, 0.0],
         [-0.0, 1.0009765625]],
        dtype=np.float16,
    ),
    # BF16 bias [2]: exact in bf16.
    "param3": np.array([1.5, -3.015625], dtype=ml_dtypes.bfloat16),
}

save_file(tensors, "tiny_numpy.safetensors", metadata={"written_by": "make_safetensors_fixture.py"})
