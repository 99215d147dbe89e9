"""Factored attribute planes: their closed-form convolution equals the plain concatenation, values and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.models.factored import FactoredPlanes, Factors, conv_pads
from faceobf.models.layers import Conv, lowerings
from faceobf.models.unet import PatchGAN, PatchGANConfig, UNet, UNetConfig
from faceobf.reconstruct.planes import attribute_planes, onehot_table

RNG = np.random.default_rng(0)
TABLES = {  # one-hot, word2vec's 4x4 maps, and a map that does not divide the image (rows of unequal height)
    "onehot": onehot_table(),
    "word2vec": RNG.normal(size=(40, 4, 4)).astype(np.float32),
    "word2vec_3x3": RNG.normal(size=(40, 3, 3)).astype(np.float32),
}
ATTRIBUTES = jnp.asarray(RNG.random((3, 40)) > 0.5, jnp.float32)


def _lax(x, kernel, strides, padding):
    return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("encoding", list(TABLES))
@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, "SAME"), (4, 2, "SAME"), (4, 1, "SAME"), (3, 2, "VALID"), (3, 1, 2),
                                                   (1, 1, "SAME"), (5, 3, ((2, 1), (0, 3)))])
@pytest.mark.parametrize("side", [17])
def test_the_planes_convolution_equals_xlas_convolution_of_the_dense_planes(encoding, kernel, stride, padding, side) -> None:
    planes = FactoredPlanes.nearest(ATTRIBUTES, TABLES[encoding], side)
    w = jnp.asarray(RNG.normal(size=(kernel, kernel, 40, 6)), jnp.float32)
    expected = _lax(planes.dense(), w, (stride, stride), conv_pads((side, side), (kernel, kernel), (stride, stride), padding))
    got = planes.convolve(w, (stride, stride), padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-4 * float(jnp.abs(expected).max()))
    # the border is where the closed form differs from "value times the sum of the taps": check it is not trivially equal
    if padding == "SAME" and kernel > 1 and encoding == "onehot":
        inner = planes.attributes @ w.sum(axis=(0, 1))
        assert not np.allclose(got[:, 0, 0], inner, atol=1e-3)


@pytest.mark.parametrize("encoding", list(TABLES))
def test_pooled_planes_are_the_dense_planes_average_pooled(encoding) -> None:
    planes = FactoredPlanes.nearest(ATTRIBUTES, TABLES[encoding], 16)
    dense = planes.dense()
    for side in (8, 4, 2):
        f = 16 // side
        pooled = dense.reshape(3, side, f, side, f, 40).mean(axis=(2, 4))
        np.testing.assert_allclose(planes.pooled(side).dense(), pooled, atol=1e-6)
    with pytest.raises(ValueError, match="does not divide"):
        planes.pooled(5)


def test_attribute_planes_are_the_dense_form_of_the_factored_planes() -> None:
    attrs = np.asarray(ATTRIBUTES, np.int8)
    np.testing.assert_array_equal(attribute_planes(attrs, TABLES["word2vec"], 8), FactoredPlanes.nearest(attrs, TABLES["word2vec"], 8).dense())


@pytest.mark.parametrize("encoding", ["onehot", "word2vec"])
@pytest.mark.parametrize("kernel,stride", [(3, 1), (4, 2)])
def test_a_conv_given_parts_equals_the_conv_of_their_concatenation_values_and_gradients(encoding, kernel, stride) -> None:
    conv = Conv(5 + 40 + 3, 8, (kernel, kernel), strides=stride, padding="SAME", rngs=nnx.Rngs(0))
    conv.bias[...] = jnp.linspace(-1, 1, 8)
    planes = FactoredPlanes.nearest(ATTRIBUTES, TABLES[encoding], 16)
    spatial = jnp.asarray(RNG.normal(size=(3, 16, 16, 5)), jnp.float32)
    image = jnp.asarray(RNG.random((3, 16, 16, 3)), jnp.float32)

    def loss(conv, image, parts: bool):
        out = conv([spatial, planes, image]) if parts else conv(jnp.concatenate([spatial, planes.dense(), image], axis=-1))
        return (out**2).sum()

    grads = [nnx.grad(loss, argnums=(0, 1))(conv, image, parts) for parts in (False, True)]
    np.testing.assert_allclose(loss(conv, image, True), loss(conv, image, False), rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * float(jnp.abs(a).max()))
    with pytest.raises(ValueError, match="input channels"):
        conv([spatial, planes])


def _factors(encoding: str, side: int = 32) -> Factors:
    spatial = jnp.asarray(RNG.random((3, side, side, 71)), jnp.float32)
    return Factors(spatial, FactoredPlanes.nearest(ATTRIBUTES, TABLES[encoding], side))


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["onehot", "word2vec"])
def test_the_unet_on_factors_equals_the_unet_on_the_concatenation_values_and_gradients(encoding) -> None:
    factors = _factors(encoding)
    unet = UNet(UNetConfig(base_width=8, depth=3, inject_levels=2), rngs=nnx.Rngs(0))

    def loss(unet, x):
        return (unet(x) ** 2).sum()

    np.testing.assert_allclose(unet(factors), unet(factors.dense()), atol=2e-5)
    dense, factored = nnx.grad(loss)(unet, factors.dense()), nnx.grad(loss)(unet, factors)
    for a, b in zip(jax.tree.leaves(dense), jax.tree.leaves(factored)):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4 * float(jnp.abs(a).max()))
    with lowerings(factored_planes=False):  # the benchmarks' 'before': the same numbers through the concatenation
        np.testing.assert_allclose(unet(factors), unet(factors.dense()), atol=2e-5)


@pytest.mark.parametrize("condition", ["factors", "factors_without_attributes", "none"])
def test_the_patchgan_sees_what_its_condition_says_from_factors_or_the_concatenation(condition) -> None:
    factors, image = _factors("onehot", 16), jnp.asarray(RNG.random((3, 16, 16, 3)), jnp.float32)
    config = PatchGANConfig(base_width=8, condition=condition, attribute_head=True)
    d = PatchGAN(PatchGANConfig(**{**config.__dict__, "in_channels": config.factor_channels(111) + 3}), rngs=nnx.Rngs(1))
    for a, b in zip(d.classify(factors, image), d.classify(factors.dense(), image)):
        np.testing.assert_allclose(a, b, atol=2e-5)
    if condition != "factors":  # what it does not see cannot change its verdict
        other = Factors(factors.spatial if condition == "factors_without_attributes" else factors.spatial * 0,
                        factors.planes.replace(attributes=1 - factors.planes.attributes))
        np.testing.assert_allclose(d(other, image), d(factors, image), atol=1e-6)
