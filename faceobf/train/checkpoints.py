"""Orbax checkpoints of an nnx state plus a JSON history: `last` for resuming, `best` for using.

Orbax writes each step to a temporary folder and renames it when complete, so an interrupted save
never replaces a good checkpoint. The history travels in the same step, so state and curves agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from faceobf import shipped


class CheckpointSlot:
    """One named slot (e.g. 'last' or 'best') under a run directory, keeping only its newest step."""

    def __init__(self, run_dir: Path, name: str):
        self.directory = (Path(run_dir) / name).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True)
        )

    @property
    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, history: dict) -> None:
        """Save `state` (an nnx.State or any pytree of arrays) and `history` as `step`, and wait for it."""
        self._manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), history=ocp.args.JsonSave(history)),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, like: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore (state shaped like `like`, history) from `step` (default newest)."""
        step = self.latest_step if step is None else step
        if step is None:
            raise FileNotFoundError(f"{self.directory}: no checkpoint saved yet")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), history=ocp.args.JsonRestore())
        )
        return restored["state"], restored["history"]

    def restore_history(self, step: int | None = None) -> dict:
        """Only the JSON history of `step` (default newest), without reading the arrays."""
        step = self.latest_step if step is None else step
        if step is None:
            raise FileNotFoundError(f"{self.directory}: no checkpoint saved yet")
        return self._manager.restore(step, args=ocp.args.Composite(history=ocp.args.JsonRestore()))["history"]

    def close(self) -> None:
        self._manager.close()


def restore_finished(run_dir: Path, like: Any) -> tuple[Any, dict, dict]:
    """(best state, or the last where the run kept its final epoch, shaped like `like`; full history from `last`;
    test metrics) of a finished run.

    The history comes from `last` because the best step's history stops at the best epoch. A run installed
    from a shipped model has no checkpoints: `faceobf.shipped.load_into` sets its network's weights instead.
    """
    best, last = CheckpointSlot(run_dir, "best"), CheckpointSlot(run_dir, "last")
    kept = best if best.latest_step is not None else last  # a run that keeps its final epoch saves no best
    state, _ = kept.restore(like)
    history = last.restore_history()
    best.close()
    last.close()
    return state, history, json.loads((Path(run_dir) / "test_metrics.json").read_text())


def restore_run(run_dir: Path, graphdef: nnx.GraphDef, state: Any, beside: Any = None) -> tuple[Any, dict, dict]:
    """(state, history, test metrics) of a finished run: `state` (graphdef's (network, *rest)) with the network's weights
    where the run was installed from a shipped model, else restored from the run's checkpoints, which hold `state`
    alone or, with `beside` (a discriminator's state), the pair."""
    if shipped.is_installed(run_dir):  # the network's weights only
        network, *rest = nnx.merge(graphdef, state)
        history, test = shipped.load_into(run_dir, network)
        return nnx.state((network, *rest)), history, test
    if beside is None:
        return restore_finished(run_dir, state)
    (state, _), history, test = restore_finished(run_dir, (state, beside))
    return state, history, test
