"""A network's layout (its graph and the shapes of its arrays), traced once per configuration and kept on disk.

Loading a finished model lays it out with `nnx.eval_shape`, which still runs its constructor under tracing:
about 2 s for ResNet-50 and 1 s for the U-Net on two CPU cores, most of a photo's start-up. The layout
depends only on the network's configuration and code, so the first load keeps it (pickled, a few kB)
under `$FACEOBF_CACHE/network-layouts` and later loads read it back in milliseconds. The entry's name
hashes the configuration, the source of `faceobf.models` and the flax and JAX versions, so a changed
network is laid out afresh; an unreadable entry is rebuilt. The warm-start switch
`FACEOBF_COMPILATION_CACHE=0` turns this cache off too.
"""

from __future__ import annotations

import hashlib
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import flax
import jax
from flax import nnx

from faceobf.io import atomic_path
from faceobf.runtime import layout_cache_dir

MODELS_SOURCE = Path(__file__).parent / "models"


@lru_cache(maxsize=1)
def _code_version() -> str:
    """What a layout depends on beside its configuration: the networks' source and the libraries that trace it."""
    digest = hashlib.sha256(f"flax {flax.__version__} jax {jax.__version__}".encode())
    for path in sorted(MODELS_SOURCE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def layout_path(key: str) -> Path | None:
    """The cache entry for the network described by `key`, or None when the warm start is off."""
    root = layout_cache_dir()
    if root is None:
        return None
    return root / (hashlib.sha256(f"{key}\n{_code_version()}".encode()).hexdigest()[:32] + ".pkl")


def network_layout(build: Callable[[], nnx.Module], key: str) -> tuple[Any, Any]:
    """(graphdef, abstract state) of the network `build` makes, `key` naming its configuration (e.g. the config's
    repr): read from the cache, else traced with `nnx.eval_shape` (no arrays computed) and kept."""
    path = layout_path(key)
    if path is not None and path.is_file():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:  # noqa: BLE001 (a damaged or foreign entry is rebuilt, never trusted)
            pass
    layout = nnx.split(nnx.eval_shape(build))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_bytes(pickle.dumps(layout))
        except OSError:  # a read-only cache only costs the next load its tracing
            pass
    return layout
