"""faceobf's JAX set-up: XLA:CPU's own convolutions and the compilation cache on disk, each switchable off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, os, time
import faceobf, jax, jax.numpy as jnp
t0 = time.perf_counter()
x = jax.jit(lambda a: jnp.tanh(a @ a.T).sum() + jnp.cos(a).mean())(jnp.ones((64, 64)))
x.block_until_ready()
print(json.dumps({"xla_flags": os.environ.get("XLA_FLAGS", ""), "cache_dir": jax.config.jax_compilation_cache_dir}))
"""


def _probe(env: dict) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "FACEOBF_XLA_FLAGS", "FACEOBF_COMPILATION_CACHE")
            and not k.startswith("JAX_")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**full, **env}, capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_importing_faceobf_turns_ynn_convolutions_off_unless_told_not_to(tmp_path: Path) -> None:
    on = _probe({"FACEOBF_CACHE": str(tmp_path)})
    assert "--xla_cpu_experimental_ynn_fusion_type=" in on["xla_flags"]
    assert "ynn" not in _probe({"FACEOBF_CACHE": str(tmp_path), "FACEOBF_XLA_FLAGS": "0"})["xla_flags"]
    mine = "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
    assert _probe({"FACEOBF_CACHE": str(tmp_path), "XLA_FLAGS": mine})["xla_flags"] == mine  # a user's own choice stands


def test_compiled_programs_are_kept_under_the_cache_folder_and_reused(tmp_path: Path) -> None:
    first = _probe({"FACEOBF_CACHE": str(tmp_path)})
    folder = tmp_path / "jax-compilation"
    assert first["cache_dir"] == str(folder)
    written = _entries(folder)
    assert written, "the first process wrote no compiled program"
    _probe({"FACEOBF_CACHE": str(tmp_path)})
    assert sorted(_entries(folder)) == sorted(written)  # the second process found them: nothing new compiled or written


def test_the_compilation_cache_can_be_switched_off_or_moved(tmp_path: Path) -> None:
    off = _probe({"FACEOBF_CACHE": str(tmp_path), "FACEOBF_COMPILATION_CACHE": "0"})
    assert not off["cache_dir"] and not _entries(tmp_path / "jax-compilation")
    moved = _probe({"FACEOBF_CACHE": str(tmp_path), "FACEOBF_COMPILATION_CACHE": str(tmp_path / "elsewhere")})
    assert moved["cache_dir"] == str(tmp_path / "elsewhere") and _entries(tmp_path / "elsewhere")
