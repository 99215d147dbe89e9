"""Paste-back that matches the photo: the grain measured around a face, the colour at its edge, Poisson as an option."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.obfuscate.pasteback import grain_sigma, match_photo, ring


def _disc(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.0, 2.0, 6.0])
def test_the_grain_of_a_noisy_photo_is_measured_despite_edges(sigma: float) -> None:
    rng = np.random.default_rng(0)
    photo = np.full((120, 120, 3), 120.0, np.float32)
    photo[:, 60:] = 200.0  # a hard edge through the ring: the median ignores it
    photo += rng.normal(0.0, sigma, photo.shape)
    where = ring(_disc((120, 120), (60, 60), 30), 10)
    assert where.sum() > 500 and not (where & (_disc((120, 120), (60, 60), 30) > 0)).any()
    np.testing.assert_allclose(grain_sigma(photo, where), sigma, atol=0.25 + 0.08 * sigma)


def test_a_matched_redraw_takes_the_photos_colour_at_the_seam_and_its_grain_but_none_of_its_face() -> None:
    rng = np.random.default_rng(1)
    shape, region = (100, 100), _disc((100, 100), (50, 50), 30)
    photo = np.full(shape + (3,), (150.0, 110.0, 90.0), np.float32) + rng.normal(0.0, 4.0, shape + (3,))
    photo[35:65, 35:65] = 255.0  # the original face's detail: nothing of it may reach the redraw
    redraw = np.full(shape + (3,), (130.0, 100.0, 80.0), np.float32)  # clean, and 20/10/10 darker
    alpha = np.clip((30.5 - np.hypot(*np.mgrid[:100, :100] - 50.0)) / 3.0, 0, 1)[..., None] * region[..., None]
    out = match_photo(redraw, photo, region, alpha, face_size=60, rng=np.random.default_rng(2))
    inner = _disc(shape, (50, 50), 10) > 0
    assert np.abs(out[inner].mean(axis=0) - redraw[inner].mean(axis=0) - (20, 10, 10)).max() < 8  # shifted, not copied
    assert 2.5 < out[inner].std(axis=0).mean() < 6.0  # the photo's grain (4 grey levels), not its bright square
    again = match_photo(redraw, photo, region, alpha, face_size=60, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(out, again)  # the same key, the same grain


def test_poisson_paste_changes_only_the_region() -> None:
    shape, region = (80, 80), _disc((80, 80), (40, 40), 20)
    photo = np.full(shape + (3,), 100.0, np.float32)
    redraw = np.full(shape + (3,), 180.0, np.float32)
    out = match_photo(redraw, photo, region, region[..., None], face_size=40, rng=np.random.default_rng(0), poisson=True)
    np.testing.assert_array_equal(out[region == 0], redraw[region == 0])  # the caller alpha-blends; outside is not cloned
    assert abs(out[region > 0].mean() - 100.0) < 30  # the clone takes the surrounding level at its border
