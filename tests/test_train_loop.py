"""The training loop every model shares: step metrics averaged on the device over each epoch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from faceobf.data.batches import iterate_batches
from faceobf.train.loop import fit


def test_fit_averages_step_metrics_over_the_epoch_on_the_device() -> None:
    values = np.arange(8, dtype=np.float32)[:, None]

    @jax.jit
    def step(state, x):
        return state + 1, {"seen": x.mean(), "count": jnp.float32(len(x))}

    state, history, epoch = fit(jnp.float32(0), step, lambda e: iterate_batches((values,), 2, seed=0, epoch=e, shuffle=False),
                                epochs=2, progress=False, log=lambda s: None)
    assert float(state) == 8 and epoch == 2  # 4 steps per epoch
    assert history["epoch"] == [1, 2] and history["seen"] == [3.5, 3.5] and history["count"] == [2.0, 2.0]
    assert list(history) == ["epoch", "count", "seen", "images_per_s"]
