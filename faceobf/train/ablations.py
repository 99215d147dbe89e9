"""Chapter 2's ablations: each arm is the main U-Net with one thing changed, all trained under one shorter budget.

The main model trains under the profile's full budget; comparing it with an arm that trained for less
would measure the budget, not the change. So every comparison is made between arms of the profile's
`ablation` budget (`with_ablation_budget`): the profile's recipe (the reference arm), then one change
each: the landmarks kept fixed under the flips (the seed's design), no edits drawn from the seed's four,
attribute planes carrying differences (STGAN), a frozen attribute critic, lower L1 weights (the sweep,
read on validation faces), an identity hinge on a small recogniser of the train identities (kept only if
the assessors it never saw agree), word2vec planes instead of one-hot (the seed's proposal) and the seed's
pix2pix recipe. The CLI trains the same runs (`faceobf train recon --short ...`, the command each run
names), so they can run in the background before the chapter.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from faceobf.data.dataset import CelebA
from faceobf.profiles import (Profile, with_ablation_budget, with_condition, with_critic, with_geometry, with_identity_hinge,
                              with_l1_weight, with_recipe, with_seed_edits)
from faceobf.train.recon import ReconRun, load_or_train_recon

REFERENCE_ARM = "the recipe (reference)"
L1_SWEEP = (30.0, 10.0)  # below the reference's 100: how much reconstruction the attribute signal can buy
IDENTITY_WEIGHT = 5.0  # the identity hinge's arm: at the margin's 0.3, a same-looking edit (cos ~0.9) costs ~3, as the attribute loss


def ablation_arms(profile: Profile) -> dict[str, tuple[Profile, str]]:
    """{arm: (profile, encoding)}: the reference arm first, then one change each, all under the ablation budget."""
    recon = profile.recon
    arms = {REFERENCE_ARM: (profile, "onehot")}
    if recon.geometry == "follow":
        arms["landmarks fixed (the seed's design)"] = (with_geometry(profile, "fixed"), "onehot")
    if recon.seed_edit_share:
        arms["no edits from the seed's four"] = (with_seed_edits(profile, 0.0), "onehot")
    arms["difference planes (STGAN)"] = (with_condition(profile, "difference"), "onehot")
    arms["frozen attribute critic"] = (with_critic(profile, "frozen"), "onehot")
    for weight in L1_SWEEP:
        arms[f"L1 weight {weight:g}"] = (with_l1_weight(profile, weight), "onehot")
    arms["identity hinge"] = (with_identity_hinge(profile, IDENTITY_WEIGHT), "onehot")
    arms["word2vec planes"] = (profile, "word2vec")
    arms["pix2pix recipe (the seed's)"] = (with_recipe(profile, "pix2pix"), "onehot")
    return {arm: (with_ablation_budget(p), encoding) for arm, (p, encoding) in arms.items()}


def load_or_train_arms(profile: Profile, dataset: CelebA, progress: bool = False,
                       log: Callable[[str], None] = print) -> dict[str, ReconRun]:
    """The finished run of every ablation arm on this data set, trained (or resumed) where missing."""
    return {arm: load_or_train_recon(p, dataset, encoding, progress=progress, log=log)
            for arm, (p, encoding) in ablation_arms(profile).items()}


def ablation_frame(models: Mapping[str, ReconRun], editing: Mapping[str, Mapping[str, dict]], flip_set: str) -> pd.DataFrame:
    """One row per model: test reconstruction inside the mask (no flip), editing accuracy (plain and balanced) and
    preservation of `flip_set`, the judge's agreement on the unedited redraw, and its own critic's (the head's) test
    accuracy."""
    rows = {}
    for name, run in models.items():
        unet, edits = run.test["unet"], editing[name]
        head = run.test.get("head_test_accuracy")
        rows[name] = {"epochs": len(run.history["epoch"]), "SSIM (mask)": unet["ssim_mask"], "PSNR dB (mask)": unet["psnr_mask"],
                      "L1 (mask)": unet["l1_mask"], f"editing, {flip_set}": edits[flip_set]["mean_accuracy"],
                      f"balanced editing, {flip_set}": edits[flip_set].get("mean_balanced", np.nan),
                      f"preservation, {flip_set}": edits[flip_set]["preservation"],
                      "agreement, no flip": edits["no flip"]["preservation"],
                      "critic's test accuracy": float(np.mean(head)) if head else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")
