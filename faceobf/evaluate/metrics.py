"""Identity metrics on descriptor sets: closed-set identification, verification, TAR at a fixed FAR.

Pure numpy over (N, D) descriptor arrays and integer identity labels, so every metric can be checked
on small hand-made sets with known answers (tests/test_evaluate_metrics.py).
"""

from __future__ import annotations

import numpy as np


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (len(a), len(b)) between two descriptor sets."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def _exclusion(probe_keys, gallery_keys, shape) -> np.ndarray:
    if probe_keys is None or gallery_keys is None:
        return np.zeros(shape, bool)
    return np.asarray(probe_keys)[:, None] == np.asarray(gallery_keys)[None, :]


def recall_at_1(probes: np.ndarray, probe_ids: np.ndarray, gallery: np.ndarray, gallery_ids: np.ndarray,
                probe_keys: np.ndarray | None = None, gallery_keys: np.ndarray | None = None) -> np.ndarray:
    """Per probe: is its nearest gallery entry of the same identity? (bool array; its mean is Recall@1).

    Gallery entries with the probe's own key (the same source image) are left out, so a processed
    image is never matched against its own original.
    """
    d = pairwise_distances(probes, gallery)
    d[_exclusion(probe_keys, gallery_keys, d.shape)] = np.inf
    return np.asarray(gallery_ids)[np.argmin(d, axis=1)] == np.asarray(probe_ids)


def pair_distances(probes: np.ndarray, probe_ids: np.ndarray, gallery: np.ndarray, gallery_ids: np.ndarray,
                   probe_keys: np.ndarray | None = None, gallery_keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) distances over all probe x gallery pairs, the probe's own image left out."""
    d = pairwise_distances(probes, gallery)
    same = np.asarray(probe_ids)[:, None] == np.asarray(gallery_ids)[None, :]
    valid = ~_exclusion(probe_keys, gallery_keys, d.shape)
    return d[same & valid], d[~same & valid]


def verification_rate(genuine: np.ndarray, threshold: float) -> float:
    """Share of same-person pairs a verifier still accepts (distance below `threshold`)."""
    genuine = np.asarray(genuine)
    return float((genuine < threshold).mean()) if genuine.size else float("nan")


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The largest threshold that accepts at most `far` of the impostor pairs."""
    impostor = np.sort(np.asarray(impostor, np.float64))
    if impostor.size == 0:
        raise ValueError("no impostor pairs to set a threshold from")
    allowed = int(np.floor(far * impostor.size))  # impostor pairs that may fall below the threshold
    return float(impostor[allowed]) if allowed < impostor.size else float("inf")


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    """True accept rate of same-person pairs at the threshold where `far` of the impostor pairs pass.

    This is what an attacker who calibrates a verifier on the obfuscated faces themselves could still
    link: a method can push every genuine pair past dlib's 0.6 and still leave them ranked first.
    """
    return verification_rate(genuine, threshold_at_far(impostor, far))


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel (x.y / d + 1)^3: one KID estimate."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())


def kernel_distance(x: np.ndarray, y: np.ndarray, subsets: int = 50, subset_size: int = 200, seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): mean and std of the unbiased polynomial MMD^2 over random subsets.

    Unbiased at any sample size, unlike FID, which matters with a few hundred faces per method.
    """
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least two samples on each side")
    values = [polynomial_mmd2_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def binomial_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) confidence interval for a success rate."""
    from scipy.stats import beta

    if trials <= 0:
        raise ValueError("no trials")
    alpha = 1.0 - confidence
    lo = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lo, hi


def binomial_p_above(successes: int, trials: int, chance: float) -> float:
    """One-sided p-value that the success rate is above `chance` (exact binomial test)."""
    from scipy.stats import binomtest

    return float(binomtest(successes, trials, chance, alternative="greater").pvalue)
