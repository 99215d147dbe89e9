"""Identity metrics on small hand-made descriptor sets whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.evaluate import metrics


def test_recall_at_1_leaves_out_the_probes_own_image() -> None:
    gallery = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.2, 0.0]])
    gallery_ids = np.array([1, 1, 2, 2])
    keys = np.array([10, 11, 20, 21])
    # probe 0 is gallery image 10 itself: its own copy is excluded, so the nearest is image 11 (same person)
    # probe 1 (person 2) sits right next to person 1's images: a miss
    probes = np.array([[0.0, 0.0], [0.3, 0.0]])
    hits = metrics.recall_at_1(probes, np.array([1, 2]), gallery, gallery_ids, np.array([10, 99]), keys)
    assert hits.tolist() == [True, False]
    # without the exclusion probe 0 would trivially match itself
    assert metrics.recall_at_1(probes[:1], np.array([2]), gallery, gallery_ids).tolist() == [False]


def test_pair_distances_verification_and_tar_at_far() -> None:
    gallery = np.array([[0.0], [1.0], [10.0]])
    gallery_ids = np.array([1, 1, 2])
    probes = np.array([[0.5]])
    genuine, impostor = metrics.pair_distances(probes, np.array([1]), gallery, gallery_ids)
    assert sorted(genuine.tolist()) == [0.5, 0.5] and impostor.tolist() == [9.5]
    assert metrics.verification_rate(np.array([0.2, 0.5, 0.7, 0.9]), 0.6) == 0.5


def test_threshold_at_far_accepts_at_most_that_share_of_impostors() -> None:
    impostor = np.arange(1, 101) / 100.0  # 0.01 .. 1.00
    t = metrics.threshold_at_far(impostor, 0.05)
    assert (impostor < t).mean() == pytest.approx(0.05)
    genuine = np.array([0.01, 0.03, 0.2, 0.9])
    assert metrics.tar_at_far(genuine, impostor, 0.05) == 0.5
    assert metrics.tar_at_far(genuine, impostor, 0.0) == 0.0  # no impostor may pass: nothing below the smallest
    with pytest.raises(ValueError, match="no impostor"):
        metrics.threshold_at_far(np.array([]), 0.01)


def test_kernel_distance_is_near_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    same, _ = metrics.kernel_distance(a, b, subsets=20, subset_size=100)
    shifted, _ = metrics.kernel_distance(a, b + 1.0, subsets=20, subset_size=100)
    assert abs(same) < 0.05 and shifted > 10 * max(abs(same), 0.01)


def test_binomial_interval_and_test_against_chance() -> None:
    lo, hi = metrics.binomial_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.3085, abs=1e-4)  # the exact (Clopper-Pearson) upper bound
    lo, hi = metrics.binomial_interval(5, 10)
    assert (lo, hi) == pytest.approx((0.1871, 0.8129), abs=1e-4)
    assert metrics.binomial_p_above(10, 10, 1 / 45) < 1e-10
    assert metrics.binomial_p_above(0, 10, 1 / 45) == 1.0


def test_stored_readings_are_keyed_by_the_evaluation_code_and_the_models(tmp_path) -> None:
    import json

    from faceobf.evaluate.protocol import _check_models, code_version, source_key

    code = "def f(x):\n    '''Doc.'''\n    return x + 1  # one\n"
    assert source_key(code) == source_key(code.replace("Doc.", "Other words.").replace("# one", "# two"))
    assert source_key(code) != source_key(code.replace("x + 1", "x + 2"))
    assert code_version() == code_version() and len(code_version()) == 16
    _check_models(tmp_path, None, None)
    stored = json.loads((tmp_path / "models.json").read_text())
    assert stored["code"] == code_version()
    (tmp_path / "models.json").write_text(json.dumps({**stored, "code": "0123456789abcdef"}))
    with pytest.raises(ValueError, match=f"another evaluation code .*rm -r {tmp_path}"):
        _check_models(tmp_path, None, None)
