"""Which part of stage 2 draws the mosaic and bands: the edits (the seed's four flipped, minus the plain redraw) of
a trained U-Net and of the same U-Net untrained, on held-out CelebA-mini test faces at the U-Net's size, with
smooth noise, a light blur and pixelation (each minus the face) as references: the edits' size, their
spectrum's axis ratio (`faceobf.evaluate.edit_spectrum`: ~1 for structure with no direction, more for
blocks and bands) and the blockiness of the edited faces (`faceobf.evaluate.naturalness.blockiness`, ~1.3 for a real face).
The stage-2 options pick the trained U-Net (default: the shipped one), e.g. `--attr-weight 0 --short`;
`--run-dir DIR [--snapshot N]` a run still training, or its weights after epoch N.
For a local run (its checkpoints hold the discriminator), also what each of the generator's adversarial losses
asks it to paint: the gradient, with respect to the edited face, of the attribute loss (the discriminator's head
reading the flipped targets) and of the realism loss (its patches), with the same spectrum measures.

    python benchmarks/bench_edit_spectrum.py [--root $FACEOBF_DATA] [--faces 64] [--figure PATH] [stage-2 options]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceobf.data import CelebA
from faceobf.evaluate.edit_spectrum import edit_differences, flipped, mean_power_spectrum, spectrum_summary
from faceobf.evaluate.naturalness import blockiness
from faceobf.obfuscate.baselines import blur_face, pixelate_face
from faceobf.options import add_options, apply_options
from faceobf.profiles import get_profile
from faceobf.reconstruct.editing import as_uint8
from faceobf.reconstruct.factors import FaceFactors, face_factors


def reference_differences(faces: FaceFactors, seed: int = 0) -> dict[str, np.ndarray]:
    """{name: (N, R, R) grey difference inside the faces' masks}: a change with no direction (noise smoothed over 2 px,
    10 grey levels, in the feathered mask) and a light blur and pixelation, each minus the face."""
    import cv2

    rng = np.random.default_rng(seed)
    feathered = [cv2.GaussianBlur(m.astype(np.float64), (0, 0), 1.5) for m in faces.masks]
    smooth = [cv2.GaussianBlur(rng.normal(size=m.shape), (0, 0), 2.0) for m in feathered]
    out = {"smooth noise": np.stack([n / n.std() * 10 / 255 * m for n, m in zip(smooth, feathered)])}
    for name, apply in (("blur 1.5 px", lambda f, m: blur_face(f, m, 1.5)),
                        ("pixelated 4 px", lambda f, m: pixelate_face(f, m, 4))):
        out[name] = np.stack([(apply(f, m.astype(np.float64)).astype(np.float64) - f).mean(-1) / 255.0 * m
                              for f, m in zip(faces.images.astype(np.float64), faces.masks)])
    return out


def figure(rows: dict[str, tuple[np.ndarray, ...]], path: Path) -> None:
    """Per row: 6 faces (the strips given, the last a grey difference or gradient, x2, mid-grey = none) and the mean
    log spectrum of that last strip over all faces."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(6.9, 1.2 + 0.75 * sum(len(r) for r in rows.values())),
                             squeeze=False, gridspec_kw={"width_ratios": [2, 0.7]})
    for (title, (*strips, signed)), (faces_ax, spectrum_ax) in zip(rows.items(), axes):
        shown = np.clip(0.5 + 2 * signed[..., None].repeat(3, -1), 0, 1)
        grid = np.concatenate([np.concatenate(list(part[:6]), axis=1) for part in (*strips, shown)], axis=0)
        faces_ax.imshow(grid)
        faces_ax.set_title(title, fontsize=8)
        spectrum_ax.imshow(np.log(mean_power_spectrum(signed) + 1e-12), cmap="magma")
        spectrum_ax.set_title("its spectrum (log)", fontsize=8)
        for ax in (faces_ax, spectrum_ax):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


AUGMENTED_DRAWS = 16  # DiffAugment draws a gradient is averaged over, for a run trained with --diffaugment


def loss_gradients(profile, encoding: str, faces: FaceFactors, run_dir: Path) -> dict[str, tuple[np.ndarray, float]]:
    """{loss: ((N, R, R) grey gradient of that generator loss with respect to a face, inside the mask}: the picked local
    run's trained discriminator judging the real test faces as if asked for the seed's four flipped (what the loss
    would have the generator change, pixel by pixel; averaged over `AUGMENTED_DRAWS` DiffAugment draws for a run
    trained with them), scaled to 0.25 at most for the figure; and its mean size inside
    the faces times the loss's weight in the run."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from faceobf.train.checkpoints import restore_finished
    from faceobf.train.gan_kit import diff_augment
    from faceobf.train.losses import bce
    from faceobf.networks import stored_prior
    from faceobf.train.recon import (FaceBatch, StepAids, _factors, _judge, attribute_bce, create_recon_state,
                                     prior_arrays, training_state)
    from faceobf.reconstruct.planes import attribute_table

    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    state, _, _ = restore_finished(run_dir, training_state(g_def, g_state, d_state, cfg))
    d = nnx.merge(d_def, state[1])[0]
    table = jnp.asarray(attribute_table(encoding, np.zeros((0, 40)), run_dir))
    aids = StepAids(table, prior=prior_arrays(stored_prior(run_dir, cfg)))
    targets = jnp.asarray(flipped(faces.attributes))
    batch = FaceBatch(faces.images, faces.landmarks, faces.masks, faces.attributes)
    images, masks, x = _factors(batch, aids, cfg, targets)
    keys = jax.random.split(jax.random.key(0), AUGMENTED_DRAWS if cfg.diffaugment else 1)

    def judged(im, read):
        """The discriminator's reading (0: patches, 1: attributes), averaged over DiffAugment draws where the run
        augments (as the generator's steps see it over time)."""
        if not cfg.diffaugment:
            return [_judge(d, x, im)[read]]
        views = [diff_augment(key, x.spatial, im) for key in keys]
        return [_judge(d, x.replace(spatial=spatial), seen)[read] for spatial, seen in views]

    losses = {"attribute loss": (lambda im: jnp.mean(jnp.stack([attribute_bce(a, targets) for a in judged(im, 1)])),
                                 cfg.attr_weight),
              "realism loss": (lambda im: jnp.mean(jnp.stack([bce(p, 1.0) for p in judged(im, 0)])), cfg.adv_weight)}
    out = {}
    for name, (loss, weight) in losses.items():
        grad = np.asarray(jax.grad(loss)(images)).mean(axis=-1) * np.asarray(masks)
        size = float(np.abs(grad).sum() / max(np.asarray(masks).sum(), 1.0)) * weight
        out[name] = (grad / max(np.abs(grad).max(), 1e-12) * 0.25, size)  # the axis ratio is scale-free
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    parser.add_argument("--faces", type=int, default=64, help="held-out test faces")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--encoding", default="onehot", choices=("onehot", "word2vec"))
    parser.add_argument("--figure", type=Path, help="write the faces, edits and spectra here (PNG)")
    parser.add_argument("--run-dir", type=Path, help="this U-Net run folder (finished or still training)")
    parser.add_argument("--snapshot", type=int, metavar="EPOCH", help="the run's weights after this epoch")
    add_options(parser, selecting=True)
    args = parser.parse_args()
    from faceobf import networks, runs, shipped, trained

    dataset = CelebA.open(args.root)
    profile = apply_options(get_profile(args.profile), args)
    faces = face_factors(dataset, dataset.split("test")[: args.faces], profile.recon.resolution, progress=False)
    from faceobf.train.recon import SNAPSHOTS

    run_dir = args.run_dir or shipped.find_or_install(runs.RunSpec.recon(profile, args.encoding))
    weights = None if args.snapshot is None else run_dir / SNAPSHOTS / f"epoch_{args.snapshot:03d}"
    generator = trained.obfuscator(profile, args.encoding, unet_dir=run_dir, unet_weights=weights).generator
    untrained = generator.with_weights(networks.generator_network(profile.unet, profile.recon, seed=0))
    print(f"{len(faces)} test faces at {profile.recon.resolution} px; U-Net: {run_dir.name}"
          + ("" if weights is None else f" after epoch {args.snapshot}"))
    rows = {}
    for name, g in (("trained", generator), ("untrained", untrained)):
        redrawn, edited = g.render(faces), g.render(faces, flipped(faces.attributes))
        differences = edit_differences(g, faces)
        summary = spectrum_summary(differences, faces.masks)
        summary["blockiness redrawn"] = float(np.median([blockiness(as_uint8(f)) for f in redrawn]))
        summary["blockiness edited"] = float(np.median([blockiness(as_uint8(f)) for f in edited]))
        print(name, "  ".join(f"{k} {v:.2f}" for k, v in summary.items()))
        rows[f"{name}: redrawn / seed's four flipped / edit - redraw"] = (redrawn, edited, differences)
    own_critic = profile.recon.critic != "frozen"  # under 'frozen' the attribute loss came from another head
    if runs.is_finished(run_dir) and not shipped.is_installed(run_dir) and weights is None and own_critic:
        for name, (gradient, size) in loss_gradients(profile, args.encoding, faces, run_dir).items():
            ratio = spectrum_summary(gradient, faces.masks)["axis ratio"]
            print(f"gradient of the {name} w.r.t. the face: axis ratio {ratio:.2f}, "
                  f"mean size x its weight {size:.2e}")
            rows[f"gradient of the {name}"] = (faces.images / 255.0, gradient)
    for name, differences in reference_differences(faces).items():
        summary = spectrum_summary(differences, faces.masks)
        print(f"{name}:", "  ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    print("blockiness of the real faces:", f"{np.median([blockiness(f) for f in faces.images]):.2f}")
    if args.figure:
        figure(rows, args.figure)


if __name__ == "__main__":
    main()
