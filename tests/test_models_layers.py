"""The fast convolution: every lowering matches lax.conv_general_dilated, values and gradients, and loads old checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.models.layers import Conv, conv_lowering


def _reference(x, kernel, bias, strides, padding):
    y = jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + bias if bias is not None else y


CASES = [  # (kernel, strides, padding, map side, expected lowering on CPU)
    (1, 1, "SAME", 8, "dot"),
    (1, 2, "SAME", 8, "dot"),
    (1, 2, "SAME", 7, "dot"),
    (1, 1, "VALID", 5, "dot"),
    (3, 1, "SAME", 6, "im2col"),
    (3, 1, "SAME", 3, "im2col"),
    (3, 1, "SAME", 2, "im2col"),
    (3, 1, "SAME", 12, "xla"),
    (3, 2, "SAME", 8, "xla"),
    (4, 2, "SAME", 8, "xla"),
    (7, 2, "SAME", 12, "xla"),
]


@pytest.mark.parametrize("kernel,stride,padding,side,lowering", CASES)
@pytest.mark.parametrize("use_bias", [False, True])
def test_each_lowering_matches_lax_conv_in_values_and_gradients(kernel, stride, padding, side, lowering, use_bias) -> None:
    assert conv_lowering((kernel, kernel), stride, padding, side, side, "cpu") == lowering
    conv = Conv(5, 7, (kernel, kernel), strides=stride, padding=padding, use_bias=use_bias, rngs=nnx.Rngs(0))
    if use_bias:
        conv.bias[...] = jnp.linspace(-1, 1, 7)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, side, side, 5)), jnp.float32)
    bias = conv.bias[...] if use_bias else None
    np.testing.assert_allclose(conv(x), _reference(x, conv.kernel[...], bias, (stride, stride), padding), rtol=1e-5, atol=1e-5)

    graphdef, params = nnx.split(conv)

    def loss_ours(params, x):
        return jnp.sum(jnp.sin(nnx.merge(graphdef, params)(x)))

    def loss_ref(kernel_value, x):
        return jnp.sum(jnp.sin(_reference(x, kernel_value, bias, (stride, stride), padding)))

    ours = jax.grad(loss_ours, argnums=(0, 1))(params, x)
    ref = jax.grad(loss_ref, argnums=(0, 1))(conv.kernel[...], x)
    np.testing.assert_allclose(ours[0]["kernel"][...], ref[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-4, atol=1e-4)


def test_other_backends_and_shapes_keep_xla() -> None:
    assert conv_lowering((1, 1), 1, "SAME", 8, 8, "gpu") == "xla"
    assert conv_lowering((3, 3), 1, "SAME", 4, 4, "tpu") == "xla"
    assert conv_lowering((3, 3), 1, "VALID", 4, 4, "cpu") == "xla"


def test_the_state_is_that_of_nnx_conv_so_old_checkpoints_load(tmp_path) -> None:
    from faceobf.train.checkpoints import CheckpointSlot

    class Old(nnx.Module):
        def __init__(self):
            self.a = nnx.Conv(3, 4, (1, 1), rngs=nnx.Rngs(1))
            self.b = nnx.Conv(4, 2, (3, 3), use_bias=False, rngs=nnx.Rngs(2))

    class New(nnx.Module):
        def __init__(self):
            self.a = Conv(3, 4, (1, 1), rngs=nnx.Rngs(3))
            self.b = Conv(4, 2, (3, 3), use_bias=False, rngs=nnx.Rngs(4))

    old, new = Old(), New()
    slot = CheckpointSlot(tmp_path, "last")
    slot.save(1, nnx.state(old), {})
    restored, _ = slot.restore(nnx.state(new))
    slot.close()
    nnx.update(new, restored)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 5, 3)), jnp.float32)
    np.testing.assert_allclose(new.b(new.a(x)), old.b(old.a(x)), rtol=1e-5, atol=1e-5)
