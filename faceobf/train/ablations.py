"""Chapter 2's ablations: each arm is the main U-Net with one thing changed, all trained under one shorter budget.

The main model trains under the profile's full budget; comparing it with an arm that trained for less
would measure the budget, not the change. So every comparison is made between arms of the profile's
`ablation` budget (`with_ablation_budget`): the AttGAN recipe with one-hot planes (the reference arm),
the first book's pix2pix recipe, no inject layers, and the attribute loss weighted four times
AttGAN's 10 (the loss is a mean over 40 attributes of which 4 are flipped, so at 10 the flipped ones weigh little
beside L1's 100). (One-hot against word2vec planes was the first book's ablation; an arm for it is one line
here, left out of the cpu book for its 10 minutes.) The CLI trains the same runs
(`faceobf train recon --short ...`), so they can run in the background before the chapter.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from faceobf.data.dataset import CelebA
from faceobf.profiles import Profile, with_ablation_budget, with_attribute_weight, with_recipe, without_injection
from faceobf.train.recon import ReconRun, load_or_train_recon

REFERENCE_ARM = "AttGAN recipe"
STRONG_ATTRIBUTE_WEIGHT = 40.0  # the attribute-weight arm: 4 x AttGAN's 10


def ablation_arms(profile: Profile) -> dict[str, tuple[Profile, str]]:
    """{arm: (profile, encoding)}: the reference arm first, then one change each, all under the ablation budget."""
    return {
        REFERENCE_ARM: (with_ablation_budget(profile), "onehot"),
        "pix2pix recipe (the first book's)": (with_ablation_budget(with_recipe(profile, "pix2pix")), "onehot"),
        "no inject layers": (with_ablation_budget(without_injection(profile)), "onehot"),
        f"attribute weight {STRONG_ATTRIBUTE_WEIGHT:g}": (with_ablation_budget(with_attribute_weight(profile, STRONG_ATTRIBUTE_WEIGHT)), "onehot"),
    }


def load_or_train_arms(profile: Profile, dataset: CelebA, progress: bool = False,
                       log: Callable[[str], None] = print) -> dict[str, ReconRun]:
    """The finished run of every ablation arm on this data set, trained (or resumed) where missing."""
    return {arm: load_or_train_recon(p, dataset, encoding, progress=progress, log=log)
            for arm, (p, encoding) in ablation_arms(profile).items()}


def ablation_frame(models: Mapping[str, ReconRun], editing: Mapping[str, Mapping[str, dict]], flip_set: str) -> pd.DataFrame:
    """One row per model: test reconstruction inside the mask (no flip), editing accuracy and preservation of
    `flip_set`, the judge's agreement on the unedited redraw, and its own critic's (the head's) test accuracy."""
    rows = {}
    for name, run in models.items():
        unet, edits = run.test["unet"], editing[name]
        head = run.test.get("head_test_accuracy")
        rows[name] = {"epochs": len(run.history["epoch"]), "SSIM (mask)": unet["ssim_mask"], "PSNR dB (mask)": unet["psnr_mask"],
                      "L1 (mask)": unet["l1_mask"], f"editing, {flip_set}": edits[flip_set]["mean_accuracy"],
                      f"preservation, {flip_set}": edits[flip_set]["preservation"],
                      "agreement, no flip": edits["no flip"]["preservation"],
                      "critic's test accuracy": float(np.mean(head)) if head else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")
