"""What every benchmark shares: faceobf's JAX set-up first, the backends line, and a measurement in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# the XLA set-up as it was before faceobf turned XLA:CPU's ynn convolutions off (XLA's default in jaxlib 0.10)
BEFORE_ENV = {"FACEOBF_XLA_FLAGS": "0", "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}

import faceobf  # noqa: E402, F401  (before JAX starts its backend: faceobf sets XLA's flags)
from faceobf.runtime import YNN_OPTION  # noqa: E402


def print_backends(with_torch: bool, what: str = "") -> None:
    """One line for JAX (backend, device, cores) and one for PyTorch (version, threads) when it is compared."""
    import jax

    ynn = "off" if YNN_OPTION in os.environ.get("XLA_FLAGS", "") else "on (XLA's default)"
    print(f"JAX {jax.__version__} ({jax.default_backend()}: {jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores, "
          f"XLA:CPU ynn fusions {ynn}" + (f"; {what}" if what else ""))
    if with_torch:
        import torch

        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN {torch.backends.mkldnn.is_available()}")


def in_subprocess(module: str, fn: str, env: dict, *args) -> float:
    """`module.fn(*args)` in a fresh process with `env` added (XLA reads its flags once, when its backend starts)."""
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import {module}; "
            f"print(json.dumps({module}.{fn}(*{args!r})))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def obfuscate_face_clip(tool, photo, box, folder, frames: int = 50, size: tuple[int, int] = (1280, 720),
                        rate: int = 25) -> tuple:
    """(input clip, output clip, seconds, report) of `faceobf obfuscate` on a clip written into `folder` that pans
    and zooms over `photo` following the face at `box` (decoding, tracking, redrawing and encoding timed; writing
    the input clip not)."""
    import time
    from pathlib import Path

    from faceobf.data.clips import face_clip
    from faceobf.obfuscate.video import obfuscate_video
    from faceobf.obfuscate.video_io import write_video

    clip, out = Path(folder, "clip.mp4"), Path(folder, "out.mp4")
    write_video(clip, face_clip(photo, box, frames, size), rate=rate)
    start = time.perf_counter()
    report = obfuscate_video(tool, clip, out)
    return clip, out, time.perf_counter() - start, report
