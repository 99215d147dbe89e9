"""A multi-face test photo composed from aligned CelebA images: faces of known places and sizes (chapter 3).

Real group photos with every face annotated are not in CelebA; composing one from real CelebA photos at
chosen scales gives a photo whose faces are all known, from large to below the tool's minimum face size,
so a reader (and a test) can check that the tool handled every one of them.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def group_photo(tiles: Sequence[np.ndarray], scales: Sequence[float], width: int = 800, gap: int = 12,
                seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """`tiles` (RGB uint8) resized by `scales` and laid out left to right in rows of at most `width` pixels on a
    smooth, faceless background; returns the photo and each tile's (left, top, right, bottom) box."""
    if len(tiles) != len(scales):
        raise ValueError(f"{len(tiles)} tiles but {len(scales)} scales")
    if not tiles:
        raise ValueError("a group photo needs at least one tile")
    resized = [cv2.resize(t, (max(1, round(t.shape[1] * s)), max(1, round(t.shape[0] * s))), interpolation=cv2.INTER_AREA)
               for t, s in zip(tiles, scales)]
    if max(t.shape[1] for t in resized) + 2 * gap > width:
        raise ValueError(f"a tile is wider than the photo ({width} px)")
    boxes, x, y, row_height = [], gap, gap, 0
    for t in resized:
        h, w = t.shape[:2]
        if x + w + gap > width:
            x, y, row_height = gap, y + row_height + gap, 0
        boxes.append((x, y, x + w, y + h))
        x, row_height = x + w + gap, max(row_height, h)
    height = y + row_height + gap
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 200, size=(3, 4, 3)).astype(np.float32)
    photo = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)
    for (left, top, right, bottom), t in zip(boxes, resized):
        photo[top:bottom, left:right] = t
    return photo, boxes
