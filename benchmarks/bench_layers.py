"""Per-layer convolution cost on this machine: XLA's convolution, faceobf's chosen lowering, PyTorch (oneDNN).

Forward + gradient (w.r.t. the input and the kernel) of one convolution, for the shapes of faceobf's
networks: the ResNet-50 FAC at 96x96 (batch 32), the cpu profile's U-Net at 64x64 and its PatchGAN
(batch 16). Median of `--repeats` jitted calls, milliseconds; `lowering` is what
`faceobf.models.layers.conv_lowering` picks on this backend ('xla' = the same as the first column).

    python benchmarks/bench_layers.py [--repeats 10] [--no-torch]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import print_backends
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    print_backends(not args.no_torch, "forward + gradient, median ms")
    print("| network | layer (batch, map, cin->cout, kernel/stride) | XLA conv | lowering | chosen | PyTorch | chosen/PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for net, b, side, cin, cout, k, s in LAYERS:
        padding = "SAME"
        how = conv_lowering((k, k), s, padding, side, side, jax.default_backend())
        xla = flax_ms(b, side, cin, cout, k, s, "xla", args.repeats)
        chosen = xla if how == "xla" else flax_ms(b, side, cin, cout, k, s, how, args.repeats)
        torch_t = float("nan") if args.no_torch else torch_ms(b, side, cin, cout, k, s, args.repeats)
        print(f"| {net} | B{b} {side}x{side} {cin}->{cout} {k}x{k}/{s} | {xla:.2f} | {how} | {chosen:.2f} | {torch_t:.2f} | "
              f"{torch_t / chosen:.2f} |", flush=True)


if __name__ == "__main__":
    main()
