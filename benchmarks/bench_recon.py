"""Stage-2 training throughput, images/s: the jitted G + D steps alone, and the whole training loop.

For the U-Net and PatchGAN of each profile at its resolution and batch size, on random factors:

* `step`: one generator step plus one discriminator step on batches already on the device, after a
  warm-up that excludes compilation;
* `loop`: one epoch of `faceobf.train.loop.fit` over uint8 factors held on the host (the way
  `faceobf train recon` runs: batch gathering and prefetch, metrics summed on the device), the
  first batch (compilation) excluded.

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

from faceobf.data.batches import iterate_batches
from faceobf.profiles import get_profile
from faceobf.reconstruct.planes import onehot_table
from faceobf.train.loop import fit
from faceobf.train.recon import create_recon_state, make_train_step


def random_factors(n: int, r: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(uint8 images, landmarks, uint8 masks, int8 attributes) of `n` random faces at `r` x `r`, stored as the trainer stores them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8)
    landmarks = (rng.random((n, 68, 2)) * r).astype(np.float32)
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, r // 5 : 4 * r // 5, r // 4 : 3 * r // 4] = 1
    return images, landmarks, masks, (rng.random((n, 40)) > 0.5).astype(np.int8)


def recon_throughput(profile_name: str, steps: int, warmup: int = 2) -> tuple[float, float, str]:
    """(step images/s, loop images/s, description) for one profile."""
    profile = get_profile(profile_name)
    cfg, unet = profile.recon, profile.unet
    g_def, g_state, d_def, d_state = create_recon_state(unet, profile.patchgan, cfg)
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()))
    b, r = cfg.batch_size, cfg.resolution
    factors = random_factors(b * (steps + 1), r)
    on_device = tuple(jax.device_put(a[:b]) for a in factors)
    state = (g_state, d_state)
    for i in range(warmup + steps):
        if i == warmup:
            jax.block_until_ready(state)
            t0 = time.perf_counter()
        state, metrics = step(state, *on_device)
    jax.block_until_ready(state)
    step_ips = steps * b / (time.perf_counter() - t0)
    _, history, _ = fit(state, step, lambda epoch: iterate_batches(factors, b, seed=0, epoch=epoch), 1, progress=False, log=lambda s: None)
    what = f"{r}x{r}, batch {b}, U-Net base {unet.base_width} depth {unet.depth}, PatchGAN base {profile.patchgan.base_width}"
    return step_ips, history["images_per_s"][0], what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["ci", "cpu"])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    print(f"JAX {jax.__version__} ({jax.default_backend()}: {jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores")
    for name in args.profiles:
        step_ips, loop_ips, what = recon_throughput(name, args.steps)
        print(f"profile {name:4s} ({what}): step {step_ips:.1f} images/s, loop {loop_ips:.1f} images/s (G step + D step)", flush=True)


if __name__ == "__main__":
    main()
