"""FAC train-step throughput: the flax.nnx ResNet-50 of faceobf against the same ResNet-50 in PyTorch.

Prints images/s for one full train step (forward, summed BCE over 40 attributes, backward, Adam) at
the profiles' resolutions, on random data, after a warm-up that excludes compilation.

    python benchmarks/bench_fac.py                      # the table: flax vs PyTorch at 96 (ci/cpu) and 128 (gpu)
    python benchmarks/bench_fac.py --explore            # + the why: resolutions, batch sizes, XLA runtime, step overhead
PyTorch is a benchmark-only dependency: pip install -r benchmarks/requirements.txt
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from common import BEFORE_ENV, in_subprocess, print_backends


def flax_throughput(resolution: int, batch: int, steps: int, warmup: int = 2, xla_only: bool = False) -> float:
    """Images/s of faceobf's jitted ResNet-50 train step (with `xla_only`: XLA's own convolution everywhere)."""
    import contextlib

    import jax

    from faceobf.models.layers import xla_convolutions
    from faceobf.models.resnet import ResNetConfig
    from faceobf.profiles import FACTrainConfig
    from faceobf.train.fac import create_train_state, make_train_step

    graphdef, state = create_train_state(ResNetConfig(), FACTrainConfig(resolution=resolution, batch_size=batch))
    step = make_train_step(graphdef)
    rng = np.random.default_rng(0)
    x = rng.random((batch, resolution, resolution, 3), dtype=np.float32)
    y = (rng.random((batch, 40)) > 0.5).astype(np.float32)
    with xla_convolutions() if xla_only else contextlib.nullcontext():  # the lowering is chosen while tracing
        for _ in range(warmup):
            state, metrics = step(state, x, y)
    jax.block_until_ready(metrics)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, x, y)
    jax.block_until_ready(metrics)
    return steps * batch / (time.perf_counter() - t0)


def torch_resnet50(num_outputs: int = 40):
    """ResNet-50 (bottleneck [3, 4, 6, 3], batch norm) in plain PyTorch, same layout as faceobf's."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
            )
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.short(x))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, n in enumerate((3, 4, 6, 3)):
        for b in range(n):
            layers.append(Bottleneck(cin, 64 * 2**stage, 2 if stage > 0 and b == 0 else 1))
            cin = 64 * 2**stage * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_outputs)]
    return nn.Sequential(*layers)


def torch_throughput(resolution: int, batch: int, steps: int, warmup: int = 2, channels_last: bool = False, device: str = "cpu") -> float:
    """Images/s of the same train step in PyTorch (eager)."""
    import torch

    torch.manual_seed(0)
    model = torch_resnet50().to(device)
    opt = torch.optim.Adam(model.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    x = torch.rand(batch, 3, resolution, resolution, device=device)
    y = (torch.rand(batch, 40, device=device) > 0.5).float()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y).sum(dim=1).mean()
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps * batch / (time.perf_counter() - t0)


def step_overhead_us(steps: int = 200) -> dict:
    """Python overhead per call of a jitted step on a tiny model: split/merge jax.jit vs nnx.jit."""
    import jax
    import optax
    from flax import nnx

    class Tiny(nnx.Module):
        def __init__(self):
            self.lin = nnx.Linear(4, 4, rngs=nnx.Rngs(0))

        def __call__(self, x):
            return self.lin(x)

    x = np.ones((2, 4), np.float32)

    def loss_fn(m):
        return (m(x) ** 2).mean()

    model = Tiny()
    opt = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, opt):
        loss, g = nnx.value_and_grad(loss_fn)(model)
        opt.update(model, g)
        return loss

    model2 = Tiny()
    opt2 = nnx.Optimizer(model2, optax.adam(1e-3), wrt=nnx.Param)
    graphdef, state = nnx.split((model2, opt2))

    @jax.jit
    def split_step(state):
        m, o = nnx.merge(graphdef, state)
        loss, g = nnx.value_and_grad(loss_fn)(m)
        o.update(m, g)
        return nnx.state((m, o)), loss

    out = {}
    for name, call in (("nnx.jit", lambda: nnx_step(model, opt)), ("split/merge + jax.jit", None)):
        if call is None:
            s = state
            for _ in range(5):
                s, l = split_step(s)
            l.block_until_ready()
            t0 = time.perf_counter()
            for _ in range(steps):
                s, l = split_step(s)
            l.block_until_ready()
        else:
            for _ in range(5):
                call()
            t0 = time.perf_counter()
            for _ in range(steps):
                l = call()
            l.block_until_ready()
        out[name] = (time.perf_counter() - t0) / steps * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[96, 128])
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-device", default="cpu", help="cpu, or cuda to compare on a GPU")
    parser.add_argument("--explore", action="store_true", help="also measure what makes flax slower")
    args = parser.parse_args()

    print_backends(not args.no_torch, f"batch {args.batch}, {args.steps} timed steps")
    print("flax before: faceobf.models.layers.Conv's lowerings (1x1 as dot, small-map 3x3 as im2col) on XLA:CPU's ynn convolutions "
          "(a fresh process); flax after: the same lowerings on XLA's own convolutions (faceobf.runtime)")
    print(f"{'resolution':>10} {'before img/s':>13} {'after img/s':>12} {'torch img/s':>12} {'before/torch':>13} {'after/torch':>12}")
    for res in args.resolutions:
        before = in_subprocess("bench_fac", "flax_throughput", BEFORE_ENV, res, args.batch, args.steps)
        after = flax_throughput(res, args.batch, args.steps)
        t = float("nan") if args.no_torch else torch_throughput(res, args.batch, args.steps, device=args.torch_device)
        print(f"{res:>10} {before:>13.1f} {after:>12.1f} {t:>12.1f} {before / t:>13.2f} {after / t:>12.2f}", flush=True)

    if not args.explore:
        return
    print(f"\n-- resolution (flax, batch {args.batch}): 64x64 leaves 2x2 maps in the last stage (compare 96 above)")
    print(f"  64x64: {flax_throughput(64, args.batch, args.steps):.1f} img/s", flush=True)
    print(f"-- batch size (flax, 96x96; batch {args.batch} above)")
    for b in (16, 64):
        print(f"  batch {b}: {flax_throughput(96, b, max(4, args.steps * 32 // b)):.1f} img/s", flush=True)
    print("-- XLA CPU runtime (flax, 96x96, fresh process each; faceobf's own flag is added to each)")
    for label, flags in (("default", ""), ("--xla_cpu_use_thunk_runtime=false", "--xla_cpu_use_thunk_runtime=false"),
                         ("--xla_cpu_multi_thread_eigen=false", "--xla_cpu_multi_thread_eigen=false")):
        try:
            v = in_subprocess("bench_fac", "flax_throughput", {"XLA_FLAGS": flags}, 96, args.batch, args.steps)
            print(f"  {label}: {v:.1f} img/s", flush=True)
        except subprocess.CalledProcessError as exc:
            print(f"  {label}: failed ({exc.stderr.strip().splitlines()[-1][:120]})", flush=True)
    if not args.no_torch:
        print("-- PyTorch memory format (96x96)")
        print(f"  channels_last: {torch_throughput(96, args.batch, args.steps, channels_last=True):.1f} img/s", flush=True)
    print("-- Python overhead per jitted call, tiny model (microseconds)")
    for k, v in step_overhead_us().items():
        print(f"  {k}: {v:.0f} us")


if __name__ == "__main__":
    main()
