"""Where the training step's time goes after the convolutions: each part taken out in turn, images/s.

FAC (ResNet-50 at 96x96, batch 32): the whole jitted train step; without the Adam update (gradients
only); with batch norm in evaluation mode (running averages: no batch statistics); without the
gradient (forward only). U-Net step (cpu profile, its recipe): the G + D steps; with GroupNorm replaced by the identity.
Differences between lines are the cost of the part removed (one run each: compare within a run).

    python benchmarks/bench_costs.py [--steps 6]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


def _ips(fn, state, args, batch: int, steps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        state = fn(state, *args)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        state = fn(state, *args)
    jax.block_until_ready(state)
    return steps * batch / (time.perf_counter() - t0)


def fac_parts(steps: int) -> dict[str, float]:
    from faceobf.models.resnet import ResNet, ResNetConfig
    from faceobf.train.losses import summed_bce

    batch, res = 32, 96
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((batch, res, res, 3), dtype=np.float32))
    y = jnp.asarray((rng.random((batch, 40)) > 0.5).astype(np.float32))
    model = ResNet(ResNetConfig(), rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def make(update: bool, train_bn: bool, grad: bool):
        """A jitted step returning (state, what it computed): outputs are returned so XLA cannot drop their work."""

        @jax.jit
        def step(state, x, y):
            model, optimizer = nnx.merge(graphdef, state)
            if not train_bn:
                model.eval()
            if not grad:
                return state, model(x)
            loss, grads = nnx.value_and_grad(lambda m: summed_bce(m(x), y))(model)
            if update:
                optimizer.update(model, grads)
                return nnx.state((model, optimizer)), loss
            return state, grads

        return lambda state, x, y: step(state, x, y)[0]

    return {
        "FAC whole step": _ips(make(True, True, True), state, (x, y), batch, steps),
        "FAC without the Adam update": _ips(make(False, True, True), state, (x, y), batch, steps),
        "FAC with batch norm in eval mode": _ips(make(True, False, True), state, (x, y), batch, steps),
        "FAC forward only (train-mode BN)": _ips(make(False, True, False), state, (x, y), batch, steps),
    }


def unet_parts(steps: int) -> dict[str, float]:
    import sys

    from faceobf.models import unet as unet_module
    from faceobf.profiles import get_profile
    from faceobf.reconstruct.planes import onehot_table
    from faceobf.train.recon import create_recon_state, make_train_step

    sys.path.insert(0, os.path.dirname(__file__))
    from bench_recon import random_factors

    profile = get_profile("cpu")
    cfg = profile.recon
    b, r = cfg.batch_size, cfg.resolution
    factors = tuple(jax.device_put(a) for a in random_factors(b, r))
    out = {}
    for label, group_norm in (("U-Net G + D step", None), ("U-Net with GroupNorm as identity", lambda *a, **k: (lambda x: x))):
        real = unet_module.nnx.GroupNorm
        if group_norm is not None:
            unet_module.nnx.GroupNorm = group_norm
        try:
            g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
            step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()))
            out[label] = _ips(lambda s, *a: step(s, *a)[0], (g_state, d_state), factors, b, steps)
        finally:
            unet_module.nnx.GroupNorm = real
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    print(f"JAX {jax.__version__} ({jax.default_backend()}), {os.cpu_count()} CPU cores; images/s, one run")
    for name, value in {**fac_parts(args.steps), **unet_parts(args.steps)}.items():
        print(f"{name:40s} {value:6.1f}", flush=True)


if __name__ == "__main__":
    main()
