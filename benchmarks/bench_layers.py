"""Per-layer cost on this machine: XLA's convolution, faceobf's chosen lowering, PyTorch (oneDNN); what was tried.

Forward + gradient (w.r.t. the input and the kernel) of one convolution, for the shapes of faceobf's
networks: the ResNet-50 FAC at 96x96 (batch 32), the cpu profile's U-Net at 64x64 and its PatchGAN
(batch 16). Median of `--repeats` jitted calls, milliseconds; `lowering` is what
`faceobf.models.layers.conv_lowering` picks on this backend ('xla' = the same as the first column);
`XLA, ynn` is XLA's convolution with XLA:CPU's default ynn fusions (a fresh process), which
`faceobf.runtime` turns off.

`--kernel-grad` records what was tried for the kernel gradient of large-map convolutions (the issue's
"remaining cost"): XLA's own, one matrix product per tap (shifted input pixels x output gradient), and
one im2col product, each with ynn fusions off and on. With ynn on, the per-tap product won by 2-5x on
64x64 maps; with ynn off (what faceobf runs), XLA's own kernel gradient wins everywhere, so no custom
VJP is kept. `--norm` times batch norm's per-channel sums as XLA's column reduction and as a product
with a vector of ones (`faceobf.models.norm`), and a training-mode BatchNorm forward + gradient.

    python benchmarks/bench_layers.py [--repeats 10] [--no-torch] [--kernel-grad] [--norm]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import BEFORE_ENV, in_subprocess, print_backends
from faceobf.models.factored import conv_pads
from faceobf.models.layers import conv_as_dot, conv_as_im2col, conv_lowering

# (network, batch, side, cin, cout, kernel, stride)
LAYERS = (
    ("ResNet-50 @96", 32, 48, 3, 64, 7, 2),
    ("ResNet-50 @96", 32, 24, 64, 64, 1, 1),
    ("ResNet-50 @96", 32, 24, 64, 64, 3, 1),
    ("ResNet-50 @96", 32, 24, 64, 256, 1, 1),
    ("ResNet-50 @96", 32, 24, 256, 512, 1, 2),
    ("ResNet-50 @96", 32, 24, 128, 128, 3, 2),
    ("ResNet-50 @96", 32, 12, 128, 128, 3, 1),
    ("ResNet-50 @96", 32, 12, 512, 128, 1, 1),
    ("ResNet-50 @96", 32, 6, 256, 256, 3, 1),
    ("ResNet-50 @96", 32, 6, 1024, 256, 1, 1),
    ("ResNet-50 @96", 32, 3, 512, 512, 3, 1),
    ("ResNet-50 @96", 32, 3, 2048, 512, 1, 1),
    ("U-Net cpu @64", 16, 64, 111, 32, 3, 1),
    ("U-Net cpu @64", 16, 64, 32, 32, 3, 1),
    ("U-Net cpu @64", 16, 32, 64, 64, 3, 1),
    ("U-Net cpu @64", 16, 16, 128, 128, 3, 1),
    ("U-Net cpu @64", 16, 8, 256, 256, 3, 1),
    ("U-Net cpu @64", 16, 4, 512, 512, 3, 1),
    ("U-Net cpu @64", 16, 64, 32, 3, 1, 1),
    ("PatchGAN @64", 16, 64, 114, 64, 4, 2),
    ("PatchGAN @64", 16, 32, 64, 128, 4, 2),
    ("PatchGAN @64", 16, 8, 256, 512, 4, 1),
)


def _median_ms(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def flax_ms(batch: int, side: int, cin: int, cout: int, k: int, stride: int, how: str, repeats: int) -> float:
    """Forward + gradient of one convolution lowered as `how` ('xla', 'dot' or 'im2col')."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(batch, side, side, cin)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(k, k, cin, cout)) * 0.05, jnp.float32)

    def conv(x, w):
        if how == "dot":
            return conv_as_dot(x, w, (stride, stride))
        if how == "im2col":
            return conv_as_im2col(x, w)
        return jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    grad = jax.jit(jax.grad(lambda x, w: jnp.sum(conv(x, w) ** 2), argnums=(0, 1)))
    return _median_ms(grad, x, w, repeats=repeats)


def torch_ms(batch: int, side: int, cin: int, cout: int, k: int, stride: int, repeats: int) -> float:
    """The same forward + gradient in PyTorch (eager, oneDNN, channels_last)."""
    import torch

    x = torch.randn(batch, cin, side, side).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = (torch.randn(cout, cin, k, k) * 0.05).contiguous(memory_format=torch.channels_last).requires_grad_()
    pad = (k - 1) // 2 if stride == 1 else k // 2 - (1 if k % 2 == 0 else 0)

    def run():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, stride=stride, padding=pad).pow(2).sum().backward()

    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _tap_views(x, out_shape, k: int, stride: int, pads):
    """Per tap (dy, dx): the (B, H', W', C) input pixels it multiplies, from the zero-padded input."""
    (pt, pb), (pl, pr) = pads
    padded = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    _, ho, wo, _ = out_shape
    return [padded[:, dy : dy + stride * (ho - 1) + 1 : stride, dx : dx + stride * (wo - 1) + 1 : stride, :]
            for dy in range(k) for dx in range(k)]


def kernel_grad_by_taps(x, g, k: int, stride: int, pads):
    """Tried: the kernel gradient as one (C x N) @ (N x out) product per tap."""
    gm = g.reshape(-1, g.shape[-1])
    return jnp.stack([v.reshape(-1, x.shape[-1]).T @ gm for v in _tap_views(x, g.shape, k, stride, pads)]).reshape(k, k, x.shape[-1], -1)


def kernel_grad_by_im2col(x, g, k: int, stride: int, pads):
    """Tried: the kernel gradient as one product of every tap's pixels side by side (N x k k C) with the gradient."""
    cols = jnp.concatenate(_tap_views(x, g.shape, k, stride, pads), axis=-1)
    gm = g.reshape(-1, g.shape[-1])
    return (cols.reshape(gm.shape[0], -1).T @ gm).reshape(k, k, x.shape[-1], -1)


def kernel_grad_ms(batch: int, side: int, cin: int, cout: int, k: int, stride: int, how: str, repeats: int) -> float:
    """The kernel gradient alone of one 'SAME' convolution, computed as `how` ('xla', 'taps' or 'im2col')."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(batch, side, side, cin)), jnp.float32)
    pads = conv_pads((side, side), (k, k), (stride, stride), "SAME")
    g = jnp.asarray(rng.normal(size=(batch, -(-side // stride), -(-side // stride), cout)), jnp.float32)
    w = jnp.zeros((k, k, cin, cout), jnp.float32)
    if how == "xla":
        def conv(w):
            return jax.lax.conv_general_dilated(x, w, (stride, stride), pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))

        fn = jax.jit(lambda g: jax.vjp(conv, w)[1](g)[0])
    else:
        grad = kernel_grad_by_taps if how == "taps" else kernel_grad_by_im2col
        fn = jax.jit(lambda g: grad(x, g, k, stride, pads))
    return _median_ms(fn, g, repeats=repeats)


def norm_ms(shape: tuple[int, ...], how: str, repeats: int) -> float:
    """Per-channel sums ('reduce' or 'dot') or a training-mode BatchNorm forward + gradient ('nnx' or 'faceobf')."""
    from flax import nnx

    from faceobf.models.norm import BatchNorm, channel_sums

    x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    if how in ("reduce", "dot"):
        fn = jax.jit(lambda x: x.sum(axis=tuple(range(x.ndim - 1))) if how == "reduce" else channel_sums(x))
        return _median_ms(fn, x, repeats=repeats)
    norm = (nnx.BatchNorm if how == "nnx" else BatchNorm)(shape[-1], rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(norm)
    fn = jax.jit(jax.grad(lambda state, x: jnp.sum(nnx.merge(graphdef, state)(x) ** 2), argnums=(0, 1)))
    return _median_ms(fn, state, x, repeats=repeats)


KERNEL_GRAD_LAYERS = tuple(layer for layer in LAYERS if layer[2] >= 24 and layer[5] > 1) + (("ResNet-50 @128", 32, 64, 3, 64, 7, 2),)
NORM_SHAPES = ((32, 32, 32, 256), (32, 16, 16, 512), (32, 8, 8, 1024), (16, 64, 64, 32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--kernel-grad", action="store_true", help="what was tried for the kernel gradient, ynn fusions off and on")
    parser.add_argument("--norm", action="store_true", help="batch norm's per-channel sums as reductions and as products")
    args = parser.parse_args()
    if args.kernel_grad:
        print_backends(False, "kernel gradient alone, median ms; ynn on: a fresh process with XLA's default")
        print("| network | layer | XLA | per tap | im2col | XLA, ynn on | per tap, ynn on | im2col, ynn on |")
        print("|---|---|---|---|---|---|---|---|")
        for net, b, side, cin, cout, k, s in KERNEL_GRAD_LAYERS:
            shape = (b, side, cin, cout, k, s)
            off = [kernel_grad_ms(*shape, how, args.repeats) for how in ("xla", "taps", "im2col")]
            on = [in_subprocess("bench_layers", "kernel_grad_ms", BEFORE_ENV, *shape, how, args.repeats) for how in ("xla", "taps", "im2col")]
            print(f"| {net} | B{b} {side}x{side} {cin}->{cout} {k}x{k}/{s} | " + " | ".join(f"{t:.1f}" for t in off + on) + " |", flush=True)
        return
    if args.norm:
        print_backends(False, "median ms")
        print("| activations | sums: reduce | sums: dot with ones | BatchNorm fwd+grad: nnx | BatchNorm fwd+grad: faceobf |")
        print("|---|---|---|---|---|")
        for shape in NORM_SHAPES:
            print(f"| {shape} | " + " | ".join(f"{norm_ms(shape, how, args.repeats):.1f}" for how in ("reduce", "dot", "nnx", "faceobf")) + " |",
                  flush=True)
        return
    print_backends(not args.no_torch, "forward + gradient, median ms")
    print("| network | layer (batch, map, cin->cout, kernel/stride) | XLA conv | XLA, ynn | lowering | chosen | PyTorch | chosen/PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for net, b, side, cin, cout, k, s in LAYERS:
        padding = "SAME"
        how = conv_lowering((k, k), s, padding, side, side, jax.default_backend())
        xla = flax_ms(b, side, cin, cout, k, s, "xla", args.repeats)
        ynn = in_subprocess("bench_layers", "flax_ms", BEFORE_ENV, b, side, cin, cout, k, s, "xla", args.repeats)
        chosen = xla if how == "xla" else flax_ms(b, side, cin, cout, k, s, how, args.repeats)
        torch_t = float("nan") if args.no_torch else torch_ms(b, side, cin, cout, k, s, args.repeats)
        print(f"| {net} | B{b} {side}x{side} {cin}->{cout} {k}x{k}/{s} | {xla:.2f} | {ynn:.2f} | {how} | {chosen:.2f} | {torch_t:.2f} | "
              f"{torch_t / chosen:.2f} |", flush=True)


if __name__ == "__main__":
    main()
