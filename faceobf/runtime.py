"""How faceobf sets JAX up before its first computation: XLA:CPU's convolutions and a compilation cache on disk.

Both are applied when `faceobf` is imported (before JAX starts its backend), so the CLI, the chapters,
the trainers and the evaluation all get them:

* **XLA:CPU's own convolutions.** jaxlib 0.10 hands convolutions and matrix products to YNNPACK
  ("ynn fusions"); on faceobf's networks those convolutions are about 2x slower forward and 2-7x slower
  in the kernel gradient than XLA's own (`benchmarks/bench_layers.py --ynn` shows both), so faceobf
  adds `--xla_cpu_experimental_ynn_fusion_type=` (no ynn fusions) to `XLA_FLAGS` on jaxlib 0.10.2 and
  later 0.10 releases, where it was measured (XLA aborts on a flag it does not know). An `XLA_FLAGS` that already names the option is left alone;
  `FACEOBF_XLA_FLAGS=0` leaves `XLA_FLAGS` untouched. GPUs and TPUs ignore it.
* **A warm start.** JAX's persistent compilation cache under `$FACEOBF_CACHE/jax-compilation`
  (default `~/.cache/faceobf/jax-compilation`): a second `faceobf obfuscate`, chapter run or training
  resumes with the compiled programs of the first instead of compiling again, and finished networks'
  layouts are kept under `$FACEOBF_CACHE/network-layouts` (`faceobf.layouts`), so a model loads without
  tracing its constructor. `FACEOBF_COMPILATION_CACHE=0` switches both off;
  `FACEOBF_COMPILATION_CACHE=/some/dir` puts the compiled programs elsewhere.
"""

from __future__ import annotations

import os
import sys
import warnings
from importlib import metadata
from pathlib import Path

YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
XLA_FLAGS_ENV = "FACEOBF_XLA_FLAGS"
COMPILATION_CACHE_ENV = "FACEOBF_COMPILATION_CACHE"
OFF = ("0", "off", "false", "no")
# jaxlib releases the flag was measured on: XLA aborts on a flag it does not know, so no other release gets it
MEASURED_JAXLIB = ((0, 10, 2), (0, 11, 0))


def _jaxlib_version() -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in metadata.version("jaxlib").split(".")[:3])
    except (metadata.PackageNotFoundError, ValueError):
        return ()


def _backends_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return True


def configure_xla_flags() -> bool:
    """Turn XLA:CPU's ynn fusions off through XLA_FLAGS (see the module docstring); whether the option is in XLA_FLAGS now."""
    flags = os.environ.get("XLA_FLAGS", "")
    if YNN_OPTION in flags:
        return True
    if os.environ.get(XLA_FLAGS_ENV, "1").lower() in OFF or not MEASURED_JAXLIB[0] <= _jaxlib_version() < MEASURED_JAXLIB[1]:
        return False
    if _backends_started():
        warnings.warn("faceobf was imported after JAX started its backend: XLA:CPU keeps its slower ynn convolutions "
                      f"in this process (import faceobf first, or set XLA_FLAGS=--{YNN_OPTION}=)", stacklevel=3)
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{YNN_OPTION}=".strip()
    return True


def compilation_cache_dir() -> Path | None:
    """Where JAX keeps compiled programs across processes, or None when switched off."""
    value = os.environ.get(COMPILATION_CACHE_ENV, "")
    if value.lower() in OFF:
        return None
    if value and value != "1":
        return Path(value).expanduser()
    cache = os.environ.get("FACEOBF_CACHE") or Path.home() / ".cache" / "faceobf"
    return Path(cache).expanduser() / "jax-compilation"


def layout_cache_dir() -> Path | None:
    """Where finished networks' layouts are kept across processes (`faceobf.layouts`), or None when the warm
    start is switched off."""
    if os.environ.get(COMPILATION_CACHE_ENV, "").lower() in OFF:
        return None
    cache = os.environ.get("FACEOBF_CACHE") or Path.home() / ".cache" / "faceobf"
    return Path(cache).expanduser() / "network-layouts"


def configure_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at `compilation_cache_dir()`, caching every program (the CPU's too)."""
    path = compilation_cache_dir()
    if path is None:
        return None
    settings = {"jax_compilation_cache_dir": str(path),
                "jax_persistent_cache_min_compile_time_secs": "0",  # every program: the redraw's many small ones add up to seconds
                "jax_persistent_cache_min_entry_size_bytes": "0"}
    if "jax" in sys.modules:
        import jax

        for name, value in settings.items():
            jax.config.update(name, float(value) if name.endswith("secs") else int(value) if name.endswith("bytes") else value)
    else:  # JAX reads its options from the environment when it is first imported
        for name, value in settings.items():
            os.environ.setdefault(name.upper(), value)
    return path


def configure() -> None:
    """Everything above, once per process (called by `import faceobf`)."""
    configure_xla_flags()
    configure_compilation_cache()
