"""The one training loop: epochs of a jitted step over prefetched batches, with metrics kept on the device.

`fit` runs `step(state, *batch_arrays) -> (state, metrics)` over the batches of each epoch. The
metrics of a step are added up on the device (no host sync inside an epoch), read once at its end,
averaged and written to the history with the validation metrics and the training throughput. With a
run folder, each epoch ends with a `last` checkpoint (the resume point) and, when the chosen
validation metric improves, a `best` one; a second call resumes after the last finished epoch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
from tqdm.auto import tqdm

from faceobf.data.batches import Batch
from faceobf.train.checkpoints import CheckpointSlot
from faceobf.train.parallel import DataParallel

Step = Callable[..., tuple[Any, dict[str, jax.Array]]]


def _format(history: dict, epoch_index: int) -> str:
    parts = [f"{k} {history[k][epoch_index]:.4g}" for k in history if k not in ("epoch", "images_per_s")]
    return " | ".join(parts + [f"{history['images_per_s'][epoch_index]:.1f} img/s"])


def fit(
    state: Any,
    step: Step,
    batches: Callable[[int], Iterable[Batch]],
    epochs: int,
    *,
    run_dir: Path | None = None,
    validate: Callable[[Any], dict[str, float]] | None = None,
    best: tuple[str, str] | None = None,
    on_epoch_end: Callable[[int, Any], None] | None = None,
    steps_per_epoch: int | None = None,
    desc: str = "train",
    progress: bool = True,
    log: Callable[[str], None] = print,
    parallel: DataParallel | None = None,
) -> tuple[Any, dict, int]:
    """Train `state` for `epochs` (resuming a run folder); returns (best or final state, history, its epoch).

    `batches(epoch)` yields the epoch's batches; `validate(state)` returns float metrics after each
    epoch; `best = (history key, "min" | "max")` chooses the kept checkpoint (the final state without it).
    With `parallel`, the state is replicated over its mesh (the batches must come split over the same mesh).
    """
    history: dict[str, list] = {"epoch": []}
    last = best_slot = None
    if run_dir is not None:
        last, best_slot = CheckpointSlot(run_dir, "last"), CheckpointSlot(run_dir, "best")
        if last.latest_step is not None:
            state, history = last.restore(state)
            log(f"resuming from {last.directory} after epoch {last.latest_step}")
    if parallel is not None:
        state = parallel.replicate(state)
        log(f"{desc}: {parallel.describe()}")
    try:
        for epoch in range(len(history["epoch"]), epochs):
            sums, n_steps, timed, t0 = None, 0, 0, time.perf_counter()
            bar = tqdm(total=steps_per_epoch, desc=f"{desc} epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
            for batch in batches(epoch):
                state, metrics = step(state, *batch.arrays)
                sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
                if n_steps == 0:
                    jax.block_until_ready(metrics)  # once per epoch: keep compilation out of the throughput
                    t0 = time.perf_counter()
                else:
                    timed += len(batch.rows)
                n_steps += 1
                bar.update(1)
            jax.block_until_ready(state)
            elapsed = time.perf_counter() - t0
            bar.close()
            means = {k: float(v) / max(1, n_steps) for k, v in jax.device_get(sums or {}).items()}  # keys sorted, as jit returns them
            record = {"epoch": epoch + 1, **means, **(validate(state) if validate else {}),
                      "images_per_s": timed / elapsed if timed else float("nan")}
            for key, value in record.items():
                history.setdefault(key, []).append(value)
            log(f"epoch {epoch + 1}/{epochs}: {_format(history, -1)}")
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, state)
            if last is not None:
                last.save(epoch + 1, state, history)
                if best is not None:
                    values = history[best[0]]
                    if values[-1] == (max(values) if best[1] == "max" else min(values)):
                        best_slot.save(epoch + 1, state, history)
        if best_slot is not None and best is not None and best_slot.latest_step is not None:
            state, _ = best_slot.restore(state)
            if parallel is not None:
                state = parallel.replicate(state)
            return state, history, int(best_slot.latest_step)
        return state, history, len(history["epoch"])
    finally:
        for slot in (last, best_slot):
            if slot is not None:
                slot.close()

