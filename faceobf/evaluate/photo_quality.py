"""How a redrawn face holds up in the photo it goes back into: its detail, who dlib says it is, whether HOG finds it.

For each face the tool redrew (not those given a fallback) at least `min_width` pixels wide:
- the **detail ratio**: the Laplacian spread of the output over that of the input inside the inner face
  box (the detector's box less a fifth on each side: skin, eyes, nose, mouth; no hair, no background);
  1 keeps the photo's sharpness, a smeared face is near 0;
- **same person**: dlib's descriptor of the output face against the input face's, at the input's
  landmarks, below dlib's 0.6 threshold (a privacy reading: lower is better);
- **found again**: HOG finds a face on the output overlapping the box (IoU >= 0.3): a redraw HOG cannot
  see as a face would stand out as much as a blur.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from faceobf.disentangle.landmarks import detect_faces
from faceobf.obfuscate.detect import Detection, detect
from faceobf.obfuscate.photo_io import read_photo
from faceobf.obfuscate.pipeline import Obfuscator
from faceobf.obfuscate.detect import iou
from faceobf.reconstruct.imageops import laplacian_detail
from faceobf.recognition import face_descriptor

SAME_PERSON = 0.6  # dlib's verification threshold


def inner_box(box: Sequence[float], margin: float = 0.2) -> tuple[int, int, int, int]:
    """The detector's box less `margin` of its width and height on each side."""
    left, top, right, bottom = box
    dx, dy = margin * (right - left), margin * (bottom - top)
    return int(round(left + dx)), int(round(top + dy)), int(round(right - dx)), int(round(bottom - dy))


def box_window(box: Sequence[float], pad: float) -> tuple[slice, slice]:
    """The (rows, columns) slices of `box` (left, top, right, bottom) widened by `pad` of its size on each side,
    clipped at the image's top-left corner (numpy clips the rest): a face with some of its surroundings."""
    left, top, right, bottom = (int(round(v)) for v in box)
    dx, dy = int(pad * (right - left)), int(pad * (bottom - top))
    return slice(max(0, top - dy), bottom + dy), slice(max(0, left - dx), right + dx)


def face_readings(photo: np.ndarray, out: np.ndarray, face: Detection, hog_boxes: Sequence[Sequence[float]]) -> dict:
    """The detail ratio, dlib distance and HOG re-detection of one redrawn face."""
    box = inner_box(face.box)
    before = laplacian_detail(photo, box)
    distance = float(np.linalg.norm(face_descriptor(out, face.landmarks) - face_descriptor(photo, face.landmarks)))
    return {"width": int(face.width), "detail_in": before, "detail_out": laplacian_detail(out, box),
            "detail_ratio": laplacian_detail(out, box) / before if before > 0 else float("nan"),
            "dlib_distance": distance, "same_person": distance < SAME_PERSON,
            "found_again": any(iou(face.box, b) >= 0.3 for b in hog_boxes)}


def photo_readings(tools: dict[str, Obfuscator], paths: Iterable[Path], min_width: int = 100,
                   log: Callable[[str], None] = lambda line: None) -> pd.DataFrame:
    """One row per (tool, redrawn face at least `min_width` wide) over the photos, with each photo's seconds; photos
    without such a face are skipped (and logged), as are photos a tool refuses."""
    rows = []
    for path in paths:
        try:
            photo = read_photo(path)
        except Exception as exc:  # noqa: BLE001 - a photo that cannot be read is skipped by name
            log(f"{path.name}: {exc}")
            continue
        for name, tool in tools.items():
            faces = [f for f in detect(photo, tool.detection) if f.redrawable and f.width >= max(min_width, tool.min_face)]
            if not faces:
                break
            start = time.perf_counter()
            try:
                out, _ = tool.obfuscate_photo(photo)
            except Exception as exc:  # noqa: BLE001 - refused photos are reported, not measured
                log(f"{path.name} ({name}): {exc}")
                continue
            seconds = time.perf_counter() - start
            hog = [f.box for f in detect_faces(out)]
            rows += [{"tool": name, "photo": path.name, "seconds": seconds, "pixels": int(photo.shape[0] * photo.shape[1]),
                      **face_readings(photo, out, face, hog)} for face in faces]
    return pd.DataFrame(rows)


def summarise(readings: pd.DataFrame) -> pd.DataFrame:
    """Per tool: faces, median detail ratio, share dlib calls the same person, share HOG finds again, median s/photo."""
    by_tool = readings.groupby("tool", sort=False)
    return pd.DataFrame({
        "faces": by_tool.size(),
        "median detail ratio": by_tool["detail_ratio"].median(),
        "dlib same person": by_tool["same_person"].mean(),
        "HOG finds again": by_tool["found_again"].mean(),
        "median s/photo": by_tool.apply(lambda g: g.drop_duplicates("photo")["seconds"].median(), include_groups=False),
    })


def largest_face_views(photo: np.ndarray, tools: dict[str, Obfuscator], pad: float = 0.25) -> list[np.ndarray]:
    """The photo's widest redrawable face as it goes in and as each tool returns it: crops of the input and of each
    output at the detector's box widened by `pad` on each side, at the photo's own pixels (for before/after figures)."""
    first = next(iter(tools.values()))
    faces = [f for f in detect(photo, first.detection) if f.redrawable]
    if not faces:
        return []
    window = box_window(max(faces, key=lambda f: f.width).box, pad)
    return [photo[window]] + [tool.obfuscate_photo(photo)[0][window] for tool in tools.values()]
