"""Stage-2 training throughput, images/s: before and after the cheaper steps, beside PyTorch, for both recipes.

For the U-Net and PatchGAN of each profile at its resolution and batch size, on random factors, one
generator step plus one discriminator step on batches already on the device, after a warm-up that
excludes compilation:

* `before`: the code as it was before the cheaper steps, in a fresh process: the attribute planes
  concatenated to the image channels as the seed builds them, XLA:CPU's default (ynn) convolutions,
  faceobf's dot / im2col lowerings;
* `after`: as `faceobf train recon` runs: the planes convolved in closed form (`faceobf.models.factored`),
  XLA's own convolutions (`faceobf.runtime`);
* `PyTorch`: the same mathematics in PyTorch's ordinary form (eager, oneDNN; planes concatenated), the
  same U-Net, PatchGAN, input assembly (heatmaps, context, planes), feathered composite and losses,
  Adam on both networks;
* for `pix2pix` (L1 + GAN, a conditional PatchGAN that sees the factors) and `attgan` (the recipe every
  profile trains: edited redraws with four flips, inject layers, an image-only PatchGAN with an
  attribute head); `loop`: one epoch of `faceobf.train.loop.fit` over uint8 factors held on the host
  with the attgan step (batch gathering and prefetch, metrics summed on the device).

    python benchmarks/bench_recon.py                      # ci and cpu profiles
    python benchmarks/bench_recon.py --profiles cpu gpu   # the gpu profile's shapes too (slow on a CPU)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import BEFORE_ENV, in_subprocess, print_backends
from faceobf.data.batches import iterate_batches
from faceobf.models.layers import lowerings
from faceobf.disentangle.attributes import allowed_indices
from faceobf.profiles import get_profile, recipe_of, with_recipe
from faceobf.reconstruct.planes import onehot_table
from faceobf.train.loop import fit
from faceobf.train.recon import create_recon_state, make_train_step

BEFORE = dict(factored_planes=False)  # the attribute planes concatenated, as before the cheaper steps (with BEFORE_ENV)


def random_factors(n: int, r: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(uint8 images, landmarks, uint8 masks, int8 attributes) of `n` random faces at `r` x `r`, stored as the trainer stores them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8)
    landmarks = (rng.random((n, 68, 2)) * r).astype(np.float32)
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, r // 5 : 4 * r // 5, r // 4 : 3 * r // 4] = 1
    return images, landmarks, masks, (rng.random((n, 40)) > 0.5).astype(np.int8)


def bench_profile(name: str, batch: int | None, recipe: str):
    """The profile `name` with `recipe`, its batch size replaced by `batch` if given (the gpu shapes on a CPU)."""
    profile = with_recipe(get_profile(name), recipe)
    return profile if batch is None else dataclasses.replace(profile, recon=dataclasses.replace(profile.recon, batch_size=batch))


def recon_throughput(profile_name: str, steps: int, recipe: str, warmup: int = 2, before: bool = False, loop: bool = False,
                     batch: int | None = None) -> float:
    """Images/s of the G + D steps of one profile with `recipe` (`before`: the old lowerings; `loop`: one epoch of the loop)."""
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
    with lowerings(**BEFORE) if before else contextlib.nullcontext():  # the lowering is chosen while tracing
        for _ in range(warmup):
            state, metrics = step(state, *on_device)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, *on_device)
    jax.block_until_ready(state)
    return steps * b / (time.perf_counter() - t0)


def torch_recon_throughput(profile_name: str, steps: int, recipe: str, warmup: int = 2, batch: int | None = None) -> float:
    """Images/s of the same G + D steps of `recipe` in eager PyTorch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    profile = bench_profile(profile_name, batch, recipe)
    cfg, unet, pg = profile.recon, profile.unet, profile.patchgan
    editing = recipe_of(profile) == "attgan"
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
            self.decoders = nn.ModuleList(block(2 * w + (unet.n_attributes if level < unet.inject_levels else 0), w)
                                          for level, w in enumerate(widths[-2::-1]))
            self.head = nn.Conv2d(widths[0], 3, 1)

        def forward(self, x):
            planes = x[:, -unet.n_attributes :]
            skips = []
            for enc in self.encoders:
                x = enc(x)
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self.bottleneck(x)
            for level, (up, dec, skip) in enumerate(zip(self.ups, self.decoders, reversed(skips))):
                parts = [F.relu(up(F.interpolate(x, scale_factor=2, mode="nearest"))), skip]
                if level < unet.inject_levels:
                    parts.append(F.avg_pool2d(planes, planes.shape[-1] // skip.shape[-1]))
                x = dec(torch.cat(parts, 1))
            return torch.sigmoid(self.head(x))

    class PatchGAN(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin, width = [], pg.factor_channels(unet.in_channels) + 3, pg.base_width
            for i in range(pg.n_layers):
                layers += [nn.Conv2d(cin, width, 4, 2, 1)] + ([nn.GroupNorm(groups(width, 8), width)] if i else []) + [nn.LeakyReLU(0.2)]
                cin, width = width, min(width * 2, 8 * pg.base_width)
            layers += [nn.Conv2d(cin, width, 4, padding="same"), nn.GroupNorm(groups(width, 8), width), nn.LeakyReLU(0.2)]
            self.trunk = nn.Sequential(*layers)
            self.out = nn.Conv2d(width, 1, 4, padding="same")
            self.attribute_head = nn.Linear(width, pg.n_attributes) if pg.attribute_head else None

        def forward(self, factors, image):
            seen = factors[:, : pg.factor_channels(factors.shape[1])]
            x = self.trunk(torch.cat([seen, image], 1))
            return self.out(x), (self.attribute_head(x.mean(dim=(2, 3))) if self.attribute_head is not None else None)

    g, d = UNet(), PatchGAN()
    g_opt = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    b, r = cfg.batch_size, cfg.resolution
    images, landmarks, masks, attributes = (torch.from_numpy(np.ascontiguousarray(a[:b])) for a in random_factors(b, r))
    allowed = torch.zeros(40, dtype=torch.bool)
    allowed[torch.from_numpy(allowed_indices())] = True
    radius = cfg.feather_radius
    size = int(2 * round(3 * radius) + 1)
    k = torch.exp(-((torch.arange(size) - (size - 1) / 2) ** 2) / (2 * radius**2))
    k = k / k.sum()
    sigma = max(1.0, r / 64)
    grid = torch.arange(r, dtype=torch.float32)
    bce = nn.BCEWithLogitsLoss()

    def factors_of(x_img, m, attrs):
        gx = torch.exp(-((grid[None, None, :] - landmarks[..., 0:1]) ** 2) / (2 * sigma**2))
        gy = torch.exp(-((grid[None, None, :] - landmarks[..., 1:2]) ** 2) / (2 * sigma**2))
        heat = torch.einsum("bky,bkx->bkyx", gy, gx)
        planes = attrs[:, :, None, None].expand(-1, -1, r, r)
        return torch.cat([heat, x_img * (1 - m), planes], 1)

    def step():
        x_img = images.permute(0, 3, 1, 2).float() / 255.0
        m = masks.float()[:, None]
        labels = attributes.float()
        x = factors_of(x_img, m, labels)
        blurred = F.conv2d(F.conv2d(F.pad(m, (size // 2,) * 4, mode="replicate"), k.view(1, 1, -1, 1)), k.view(1, 1, 1, -1))
        alpha = m * torch.clamp(2 * blurred - 1, 0, 1).sqrt()
        fake = alpha * g(x) + (1 - alpha) * x_img
        l1 = (torch.abs(fake - x_img) * m).sum() / (m.sum() * 3)
        adv = bce(logits := d(x, fake)[0], torch.ones_like(logits))
        attr = torch.zeros(())
        if editing:
            scores = torch.where(allowed, torch.rand(b, 40), torch.full((b, 40), -1.0))
            flip = torch.zeros(b, 40, dtype=torch.bool).scatter_(1, scores.topk(cfg.edit_flips, dim=1).indices, True)
            targets = torch.where(flip, 1 - labels, labels)
            x_edit = factors_of(x_img, m, targets)
            fake_edit = alpha * g(x_edit) + (1 - alpha) * x_img
            patches, attr_logits = d(x_edit, fake_edit)
            adv = 0.5 * (adv + bce(patches, torch.ones_like(patches)))
            if attr_logits is not None:
                attr = F.binary_cross_entropy_with_logits(attr_logits, targets)
        g_loss = cfg.l1_weight * l1 + cfg.adv_weight * adv + cfg.attr_weight * attr
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        real, real_attrs = d(x, x_img)
        fake_logits = d(x, fake.detach())[0]
        fake_loss = bce(fake_logits, torch.zeros_like(fake_logits))
        if editing:
            edit_logits = d(x_edit, fake_edit.detach())[0]
            fake_loss = 0.5 * (fake_loss + bce(edit_logits, torch.zeros_like(edit_logits)))
        d_loss = 0.5 * (bce(real, torch.ones_like(real)) + fake_loss)
        if real_attrs is not None:
            d_loss = d_loss + cfg.d_attr_weight * F.binary_cross_entropy_with_logits(real_attrs, labels)
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
    parser.add_argument("--recipes", nargs="+", default=["pix2pix", "attgan"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-loop", action="store_true", help="skip the training-loop column")
    parser.add_argument("--batch", type=int, help="replace the profiles' batch sizes (e.g. the gpu shapes on a CPU)")
    args = parser.parse_args()
    print_backends(not args.no_torch, "G + D step, images/s")
    print("| profile | recipe | shapes | before | after | PyTorch | before/PyTorch | after/PyTorch | after/before | loop |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.profiles:
        for recipe in args.recipes:
            p = bench_profile(name, args.batch, recipe)
            what = (f"{p.recon.resolution}x{p.recon.resolution}, batch {p.recon.batch_size}, U-Net {p.unet.base_width}/{p.unet.depth}, "
                    f"PatchGAN {p.patchgan.base_width}")
            before = in_subprocess("bench_recon", "recon_throughput", BEFORE_ENV, name, args.steps, recipe, 2, True, False, args.batch)
            after = recon_throughput(name, args.steps, recipe, batch=args.batch)
            torch_ips = float("nan") if args.no_torch else torch_recon_throughput(name, args.steps, recipe, batch=args.batch)
            loop = float("nan") if args.no_loop or recipe != "attgan" else recon_throughput(name, args.steps, recipe, loop=True, batch=args.batch)
            print(f"| {name} | {recipe} | {what} | {before:.1f} | {after:.1f} | {torch_ips:.1f} | {before / torch_ips:.2f} | "
                  f"{after / torch_ips:.2f} | {after / before:.2f} | {loop:.1f} |", flush=True)


if __name__ == "__main__":
    main()
