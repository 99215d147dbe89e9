"""Clips made from real photos, for the book's video section, the video tests and the video benchmark.

A slow pan and zoom over a still photo gives a clip in which each face moves, grows and may leave the frame,
as in footage, while who is in it stays known.
"""

from __future__ import annotations

import cv2
import numpy as np


def pan_zoom(photo: np.ndarray, frames: int, size: tuple[int, int] = (1280, 720), pan: float = 0.08,
             zoom: float = 0.15, centre: tuple[float, float] | None = None, scale: float | None = None) -> list[np.ndarray]:
    """`frames` views of `photo` at `size` (width, height) around `centre` (default the photo's), magnified by `scale`
    (default: just covering the frame), panning right by `pan` of the photo's width and zooming in by `zoom`."""
    h, w = photo.shape[:2]
    scale = scale if scale is not None else max(size[0] / w, size[1] / h) * 1.2
    x0, y0 = centre if centre is not None else (w / 2, h / 2)
    out = []
    for k in range(frames):
        t = k / max(1, frames - 1)
        s = scale * (1 + zoom * t)
        cx, cy = x0 + pan * w * (t - 0.5), y0
        matrix = np.array([[s, 0, size[0] / 2 - s * cx], [0, s, size[1] / 2 - s * cy]], np.float32)
        out.append(cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def face_clip(photo: np.ndarray, box: tuple[float, float, float, float], frames: int, size: tuple[int, int] = (1280, 720),
              face_height: float = 0.4, pan: float = 0.03, zoom: float = 0.15) -> list[np.ndarray]:
    """`pan_zoom` that follows one face: centred on `box` (left, top, right, bottom, in the photo's pixels) and scaled
    so that the face is `face_height` of the frame's height, so the face stays in view as the camera moves."""
    left, top, right, bottom = box
    scale = face_height * size[1] / max(1.0, bottom - top)
    return pan_zoom(photo, frames, size, pan=pan, zoom=zoom, centre=((left + right) / 2, (top + bottom) / 2), scale=scale)
