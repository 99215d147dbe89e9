"""Stage-2 train-step throughput: one generator step plus one discriminator step, images/s.

Measured for the U-Net and PatchGAN of each profile at its resolution and batch size, on random
inputs, after a warm-up that excludes compilation.

    python benchmarks/bench_recon.py                 # ci and cpu profiles
    python benchmarks/bench_recon.py --profiles gpu  # on a GPU
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from faceobf.attributes import onehot_table
from faceobf.profiles import get_profile
from faceobf.train.recon import create_recon_state, make_recon_steps


def recon_throughput(profile_name: str, steps: int, warmup: int = 2) -> tuple[float, str]:
    profile = get_profile(profile_name)
    cfg, unet = profile.recon, profile.unet
    g_def, g_state, d_def, d_state = create_recon_state(unet, cfg)
    g_step, d_step = make_recon_steps(g_def, d_def, cfg)
    rng = np.random.default_rng(0)
    b, r = cfg.batch_size, cfg.resolution
    images = rng.random((b, r, r, 3), dtype=np.float32)
    landmarks = (rng.random((b, 68, 2)) * r).astype(np.float32)
    masks = np.zeros((b, r, r), np.float32)
    masks[:, r // 5 : 4 * r // 5, r // 4 : 3 * r // 4] = 1
    attrs = (rng.random((b, 40)) > 0.5).astype(np.float32)
    table = jnp.asarray(onehot_table())
    for i in range(warmup + steps):
        if i == warmup:
            jax.block_until_ready(d_state)
            t0 = time.perf_counter()
        g_state, fakes, _ = g_step(g_state, d_state, images, landmarks, masks, attrs, table)
        d_state, _ = d_step(d_state, images, landmarks, masks, attrs, fakes, table)
    jax.block_until_ready(d_state)
    what = f"{r}x{r}, batch {b}, U-Net base {unet.base_width} depth {unet.depth}"
    return steps * b / (time.perf_counter() - t0), what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["ci", "cpu"])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    print(f"JAX {jax.__version__} ({jax.default_backend()}: {jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores")
    for name in args.profiles:
        ips, what = recon_throughput(name, args.steps)
        print(f"profile {name:4s} ({what}): {ips:.1f} images/s (G step + D step)", flush=True)


if __name__ == "__main__":
    main()
