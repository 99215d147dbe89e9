"""The tables of chapter 4's report."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.evaluate.report import landmark_subset_frame


def test_landmark_subset_frame_puts_both_models_side_by_side() -> None:
    row = {"recall_at_1": 0.2, "verification_at_0.6": 0.05, "hog_detection": 1.0, "landmark_recall_at_1": 0.3,
           "landmark_recall_subset": 0.25, "ssim": 0.8, "kid": 0.04}
    both = {"all": {"unet_noflip": row, "flip4": row}, "outline_nose": {"unet_noflip": {**row, "kid": None}, "flip4": row}}
    frame = landmark_subset_frame(both)
    assert frame.shape == (4, 7)
    assert frame.loc[("U-Net fed all 68", "U-Net, no flips"), "KID x1e3"] == pytest.approx(40.0)
    assert np.isnan(frame.loc[("U-Net fed outline + nose (26)", "U-Net, no flips"), "KID x1e3"])  # not measured
    assert frame.loc[("U-Net fed outline + nose (26)", "U-Net, seed's 4 flips"), "Recall@1"] == 0.2
