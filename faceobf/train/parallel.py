"""Data parallelism over every local device: each batch split along its first axis, the state replicated.

`DataParallel.over(batch_size)` builds a one-axis mesh ('data') over as many local devices as divide the
batch (all 8 cores of a Colab TPU, every GPU of a workstation). The training loops put each batch on the
mesh split by rows and the (model, optimizer) state replicated; the jitted steps are unchanged: XLA's
SPMD partitioner turns the batch means of the losses and metrics into cross-device reductions, so a step
computes what one device would (batch-norm statistics included) and the replicas stay identical. With
one usable device `over` returns None and nothing changes. Several hosts: call
`jax.distributed.initialize()` first; the mesh then spans every host's devices, every host draws the same
global batch (the order is a function of seed and epoch) and puts its share of the rows on its own devices
(`faceobf.data.batches.put_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


@dataclass(frozen=True)
class DataParallel:
    """A data-parallel mesh: batches split over its devices along axis 0, states replicated."""

    mesh: Mesh

    @classmethod
    def over(cls, batch_size: int, devices: Sequence[jax.Device] | None = None) -> "DataParallel | None":
        """The mesh over the most devices (default: all, every host's) that divide `batch_size`; None when that is
        one. With several processes every device must take part: the batch must divide over all of them."""
        devices = list(jax.devices() if devices is None else devices)
        if jax.process_count() > 1:
            if batch_size % len(devices):
                raise ValueError(f"batch {batch_size} does not split over the {len(devices)} devices of "
                                 f"{jax.process_count()} processes; use a multiple of {len(devices)}")
            return cls(Mesh(np.array(devices), ("data",)))
        usable = max(n for n in range(1, len(devices) + 1) if batch_size % n == 0)
        if usable == 1:
            return None
        return cls(Mesh(np.array(devices[:usable]), ("data",)))

    @property
    def devices(self) -> int:
        return self.mesh.size

    @property
    def batch(self) -> NamedSharding:
        """Rows split over the devices."""
        return NamedSharding(self.mesh, PartitionSpec("data"))

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def replicate(self, tree: Any) -> Any:
        """Every array of `tree` copied to every device of the mesh."""
        return jax.device_put(tree, self.replicated)

    def describe(self) -> str:
        kinds = ", ".join(sorted({d.device_kind for d in self.mesh.devices.flat}))
        return f"data parallel over {self.devices} devices ({kinds})"


def batch_sharding(parallel: DataParallel | None) -> NamedSharding | None:
    """Where a batch goes: split over the mesh, or the default device (None)."""
    return None if parallel is None else parallel.batch
