"""Start-up: help and refusals never import JAX; a finished network's layout is traced once and then read back."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from faceobf import layouts
from faceobf.models.upscaler import Upscaler, UpscalerConfig

PROBE = """
import sys
from faceobf.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("JAX_IMPORTED" if "jax" in sys.modules else "JAX_NOT_IMPORTED", code)
"""


@pytest.mark.parametrize("arguments", [
    ["--help"], ["obfuscate", "--help"], ["evaluate", "--help"], ["train", "recon", "--help"],
    ["human-test", "make", "--help"], ["obfuscate", "/no/such/photo.jpg"], ["train", "recon", "--epochs", "-1"],
    ["evaluate", "--methods", "no_such_method"],
])
def test_help_and_refusals_never_import_jax(arguments: list[str], tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEOBF_PROFILE", raising=False)
    monkeypatch.setenv("FACEOBF_DATA", str(tmp_path))  # an empty folder: `train` refuses it before anything loads
    done = subprocess.run([sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, cwd=tmp_path)
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("JAX_NOT_IMPORTED"), (arguments, done.stdout[-500:], done.stderr[-1500:])
    code = int(last.split()[-1])
    assert code == (0 if "--help" in arguments else 2), (arguments, done.stderr[-1500:])


def _build() -> Upscaler:
    return Upscaler(UpscalerConfig(width=8, blocks=1), rngs=nnx.Rngs(0))


def test_a_layout_is_traced_once_then_read_back_and_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FACEOBF_CACHE", str(tmp_path))
    monkeypatch.delenv("FACEOBF_COMPILATION_CACHE", raising=False)
    key = f"Upscaler {UpscalerConfig(width=8, blocks=1)!r}"
    graphdef, abstract = layouts.network_layout(_build, key)
    path = layouts.layout_path(key)
    assert path is not None and path.is_file()

    def must_not_build():
        raise AssertionError("the cached layout should have been read")

    cached_graphdef, cached_abstract = layouts.network_layout(must_not_build, key)
    assert cached_graphdef == graphdef
    shapes = [(leaf.shape, leaf.dtype) for leaf in jax.tree_util.tree_leaves(abstract)]
    assert shapes and [(leaf.shape, leaf.dtype) for leaf in jax.tree_util.tree_leaves(cached_abstract)] == shapes
    other = layouts.layout_path(f"Upscaler {UpscalerConfig(width=16, blocks=1)!r}")
    assert other != path  # another configuration is another entry

    path.write_bytes(b"not a pickle")
    rebuilt, _ = layouts.network_layout(_build, key)
    assert rebuilt == graphdef


def test_the_warm_start_switch_turns_the_layout_cache_off(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FACEOBF_CACHE", str(tmp_path))
    monkeypatch.setenv("FACEOBF_COMPILATION_CACHE", "0")
    assert layouts.layout_path("anything") is None
    graphdef, abstract = layouts.network_layout(_build, "anything")
    model = nnx.merge(graphdef, abstract)
    assert isinstance(model, Upscaler)
    assert not any(tmp_path.iterdir())


def test_a_network_loaded_through_the_cached_layout_computes_as_the_one_it_was_saved_from(tmp_path, monkeypatch) -> None:
    from faceobf import shipped

    monkeypatch.setenv("FACEOBF_CACHE", str(tmp_path / "cache"))
    network = _build()
    run = tmp_path / "run"
    run.mkdir()
    shipped.save_network(run, network)
    x = np.random.default_rng(0).random((1, 16, 16, 3), np.float32)
    for _ in range(2):  # traced, then read back from the cache
        loaded = shipped.load_network(run, _build, "Upscaler small")
        np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(network(x)), rtol=1e-6, atol=1e-6)
