"""Stage-2 training throughput, images/s: the jitted G + D steps, the whole training loop, and PyTorch.

For the U-Net and PatchGAN of each profile at its resolution and batch size, on random factors:

* `before` / `after`: one generator step plus one discriminator step of the pix2pix recipe (L1 + GAN)
  on batches already on the device, with XLA's own convolution everywhere (before) and with
  `faceobf.models.layers.Conv`'s lowerings (after), after a warm-up that excludes compilation;
* `torch`: the same U-Net, PatchGAN, input assembly (heatmaps, context, planes), feathered composite
  and losses in eager PyTorch (oneDNN), Adam(2e-4, 0.5) on both networks;
* `attgan` / `loop`: the profile's attribute recipe (edited redraws, attribute head), as a step and as
  one epoch of `faceobf.train.loop.fit` over uint8 factors held on the host (the way `faceobf train
  recon` runs: batch gathering and prefetch, metrics summed on the device).

    python benchmarks/bench_recon.py                 # ci and cpu profiles
    python benchmarks/bench_recon.py --profiles gpu  # the gpu profile's shapes (on this CPU, or on a GPU)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import print_backends
from faceobf.data.batches import iterate_batches
from faceobf.models.layers import xla_convolutions
from faceobf.profiles import get_profile, with_recipe
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


def bench_profile(name: str, batch: int | None = None, recipe: str = "pix2pix"):
    """The profile `name` with `recipe`, its batch size replaced by `batch` if given (the gpu shapes on a CPU)."""
    profile = with_recipe(get_profile(name), recipe)
    return profile if batch is None else dataclasses.replace(profile, recon=dataclasses.replace(profile.recon, batch_size=batch))


def recon_throughput(profile_name: str, steps: int, warmup: int = 2, xla_only: bool = False, loop: bool = False,
                     recipe: str = "pix2pix", batch: int | None = None) -> float:
    """Images/s of the G + D steps of one profile with `recipe` (with `loop`: of one epoch of the training loop instead)."""
    profile = bench_profile(profile_name, batch, recipe)
    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()))
    b, r = cfg.batch_size, cfg.resolution
    factors = random_factors(b * (steps + 1), r)
    state = (g_state, d_state)
    if loop:
        _, history, _ = fit(state, step, lambda epoch: iterate_batches(factors, b, seed=0, epoch=epoch), 1, progress=False, log=lambda s: None)
        return history["images_per_s"][0]
    on_device = tuple(jax.device_put(a[:b]) for a in factors)
    with xla_convolutions() if xla_only else contextlib.nullcontext():  # the lowering is chosen while tracing
        for _ in range(warmup):
            state, metrics = step(state, *on_device)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, *on_device)
    jax.block_until_ready(state)
    return steps * b / (time.perf_counter() - t0)


def torch_recon_throughput(profile_name: str, steps: int, warmup: int = 2, batch: int | None = None) -> float:
    """Images/s of the same G + D steps (the pix2pix recipe) in eager PyTorch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    profile = bench_profile(profile_name, batch)
    cfg, unet, pg = profile.recon, profile.unet, profile.patchgan
    torch.manual_seed(0)

    def groups(width: int, wanted: int) -> int:
        while width % wanted:
            wanted //= 2
        return max(1, wanted)

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(groups(cout, unet.groups), cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.GroupNorm(groups(cout, unet.groups), cout), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [unet.base_width * 2**i for i in range(unet.depth + 1)]
            cins = [unet.in_channels] + widths[:-2]
            self.encoders = nn.ModuleList(block(c, w) for c, w in zip(cins, widths[:-1]))
            self.bottleneck = block(widths[-2], widths[-1])
            self.ups = nn.ModuleList(nn.Conv2d(lo, w, 3, padding=1) for lo, w in zip(widths[:0:-1], widths[-2::-1]))
            self.decoders = nn.ModuleList(block(2 * w, w) for w in widths[-2::-1])
            self.head = nn.Conv2d(widths[0], 3, 1)

        def forward(self, x):
            skips = []
            for enc in self.encoders:
                x = enc(x)
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self.bottleneck(x)
            for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
                x = dec(torch.cat([F.relu(up(F.interpolate(x, scale_factor=2, mode="nearest"))), skip], 1))
            return torch.sigmoid(self.head(x))

    class PatchGAN(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin, width = [], unet.in_channels + 3, pg.base_width
            for i in range(pg.n_layers):
                layers += [nn.Conv2d(cin, width, 4, 2, 1)] + ([nn.GroupNorm(groups(width, 8), width)] if i else []) + [nn.LeakyReLU(0.2)]
                cin, width = width, min(width * 2, 8 * pg.base_width)
            layers += [nn.Conv2d(cin, width, 4, padding="same"), nn.GroupNorm(groups(width, 8), width), nn.LeakyReLU(0.2),
                       nn.Conv2d(width, 1, 4, padding="same")]
            self.net = nn.Sequential(*layers)

        def forward(self, factors, image):
            return self.net(torch.cat([factors, image], 1))

    g, d = UNet(), PatchGAN()
    g_opt = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    b, r = cfg.batch_size, cfg.resolution
    images, landmarks, masks, attributes = (torch.from_numpy(np.ascontiguousarray(a[:b])) for a in random_factors(b, r))
    radius = cfg.feather_radius
    size = int(2 * round(3 * radius) + 1)
    k = torch.exp(-((torch.arange(size) - (size - 1) / 2) ** 2) / (2 * radius**2))
    k = k / k.sum()
    sigma = max(1.0, r / 64)
    grid = torch.arange(r, dtype=torch.float32)
    bce = nn.BCEWithLogitsLoss()

    def step():
        x_img = images.permute(0, 3, 1, 2).float() / 255.0
        m = masks.float()[:, None]
        gx = torch.exp(-((grid[None, None, :] - landmarks[..., 0:1]) ** 2) / (2 * sigma**2))
        gy = torch.exp(-((grid[None, None, :] - landmarks[..., 1:2]) ** 2) / (2 * sigma**2))
        heat = torch.einsum("bky,bkx->bkyx", gy, gx)
        planes = attributes.float()[:, :, None, None].expand(-1, -1, r, r)
        x = torch.cat([heat, x_img * (1 - m), planes], 1)
        blurred = F.conv2d(F.conv2d(F.pad(m, (size // 2,) * 4, mode="replicate"), k.view(1, 1, -1, 1)), k.view(1, 1, 1, -1))
        alpha = m * torch.clamp(2 * blurred - 1, 0, 1).sqrt()
        fake = alpha * g(x) + (1 - alpha) * x_img
        l1 = (torch.abs(fake - x_img) * m).sum() / (m.sum() * 3)
        logits = d(x, fake)
        g_loss = cfg.l1_weight * l1 + cfg.adv_weight * bce(logits, torch.ones_like(logits))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        real, fake_logits = d(x, x_img), d(x, fake.detach())
        d_loss = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake_logits, torch.zeros_like(fake_logits)))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * b / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["ci", "cpu"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--batch", type=int, help="replace the profiles' batch sizes (e.g. the gpu shapes on a CPU)")
    args = parser.parse_args()
    print_backends(not args.no_torch)
    print("| profile | shapes | before (XLA conv) | after | PyTorch | before/PyTorch | after/PyTorch | attgan step | attgan loop |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.profiles:
        p = bench_profile(name, args.batch)
        what = (f"{p.recon.resolution}x{p.recon.resolution}, batch {p.recon.batch_size}, U-Net {p.unet.base_width}/{p.unet.depth}, "
                f"PatchGAN {p.patchgan.base_width}")
        before = recon_throughput(name, args.steps, xla_only=True, batch=args.batch)
        after = recon_throughput(name, args.steps, batch=args.batch)
        torch_ips = float("nan") if args.no_torch else torch_recon_throughput(name, args.steps, batch=args.batch)
        attgan = recon_throughput(name, args.steps, recipe="attgan", batch=args.batch)
        loop = recon_throughput(name, args.steps, loop=True, recipe="attgan", batch=args.batch)
        print(f"| {name} | {what} | {before:.1f} | {after:.1f} | {torch_ips:.1f} | {before / torch_ips:.2f} | "
              f"{after / torch_ips:.2f} | {attgan:.1f} | {loop:.1f} |", flush=True)


if __name__ == "__main__":
    main()
