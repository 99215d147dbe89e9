"""A batch iterator with deterministic shuffling, random flips and background prefetch."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class Batch:
    """Images as float32 in [0, 1] (B, R, R, 3), labels as float32 (B, K), and their dataset rows."""

    images: np.ndarray
    labels: np.ndarray
    rows: np.ndarray


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The visiting order of `n` items in `epoch`: a pure function of (seed, epoch), so resumes replay it."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def iterate_batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    hflip: bool = False,
    drop_last: bool = True,
    prefetch: int = 2,
) -> Iterator[Batch]:
    """Yield batches of (uint8 `images`, `labels`) in the order `epoch_order` gives, prepared in a thread.

    Flips are drawn from the same (seed, epoch) stream, so a run is reproducible batch for batch.
    """
    n = len(images)
    order = epoch_order(n, seed, epoch, shuffle)
    flip_rng = np.random.default_rng([seed, epoch, 1])
    flips = flip_rng.random(n) < 0.5 if hflip else np.zeros(n, bool)
    stops = range(0, n - batch_size + 1 if drop_last else n, batch_size)

    def make(start: int) -> Batch:
        rows = order[start : start + batch_size]
        x = images[rows]
        x = x.astype(np.float32) / 255.0
        flip = flips[rows]
        if flip.any():
            x[flip] = x[flip, :, ::-1]
        return Batch(x, labels[rows].astype(np.float32), rows)

    if prefetch <= 0:
        for start in stops:
            yield make(start)
        return

    buffer: queue.Queue = queue.Queue(maxsize=prefetch)
    done = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for start in stops:
                if stop.is_set():
                    return
                buffer.put(make(start))
            buffer.put(done)
        except BaseException as exc:  # surface errors in the consumer
            buffer.put(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
