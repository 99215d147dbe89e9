"""Issue 37's table: how fast `faceobf` is for real use, each row measured in this one run.

Rows: `faceobf --help` and `faceobf obfuscate one.jpg -o OUT` (a 910x1137 JPEG with one face, the first call
and the second, wall seconds of the whole command in a fresh process); a 1080x1080 and a 4000x4000 photo
through a warm tool, by stage; a folder of aligned 178x218 CelebA-mini test faces (`obfuscate_files`, as
`faceobf obfuscate FOLDER` runs it, photos/s after the models load); a 720p clip with two faces (frames/s of
the whole command, with key frames every 8 frames and with the full detectors on every frame, and the HOG faces
each left uncovered), beside deface 1.5.0 on the same clip when `--deface PYTHON` names a Python that has
it (deface pins the GUI OpenCV, which clashes with faceobf's, so it lives in its own environment:
`python -m venv /tmp/deface && /tmp/deface/bin/pip install deface==1.5.0`); and the peak memory of
`faceobf obfuscate` on a 16-megapixel photo (the child's own ru_maxrss). The photos are NASA's astronaut
(skimage) scaled; the folder and the clip's faces are CelebA-mini test images ($FACEOBF_DATA).

    python benchmarks/bench_speed.py [--profile cpu] [--faces 100] [--frames 72] [--deface /tmp/deface/bin/python]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from bench_obfuscate import stages
from common import print_backends
from faceobf import trained
from faceobf.profiles import get_profile

TOOL = [sys.executable, "-m", "faceobf.cli"]


PEAK = ("import resource, sys; from faceobf.cli import main; code = main(sys.argv[1:]); "
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")


def wall(command: list[str], env: dict | None = None) -> float:
    """Wall seconds of `command` in a fresh process (which must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def peak_memory(arguments: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MB) of `faceobf ARGUMENTS` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *arguments], env={**os.environ, **env}, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"faceobf {' '.join(arguments)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, int(done.stderr.split("PEAK_KB")[-1].split()[0]) / 1024


def save(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def astronaut(width: int, height: int) -> np.ndarray:
    return cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)


def test_faces(count: int) -> list[np.ndarray]:
    """The first `count` CelebA-mini test images (aligned 178x218), or the astronaut cut to that size."""
    root = os.environ.get("FACEOBF_DATA")
    if not root:
        return [cv2.resize(data.astronaut()[20:260, 110:330], (178, 218))] * count
    from faceobf.data import CelebA

    dataset = CelebA.open(root)
    return [dataset.read_aligned(int(r)) for r in dataset.split("test")[:count]]


def two_face_clip(folder: Path, frames: int) -> Path:
    """A 1280x720, 25 fps clip panning over two CelebA test faces side by side."""
    from faceobf.data.clips import pan_zoom
    from faceobf.obfuscate.video_io import write_video

    left, right = test_faces(40)[::39]
    pair = np.concatenate([left, np.full((218, 60, 3), 120, np.uint8), right], axis=1)
    clip = folder / "two_faces.mp4"
    write_video(clip, pan_zoom(pair, frames, (1280, 720), pan=0.02, zoom=0.1, centre=(208, 109),
                               scale=0.8 * 720 / 218), rate=25)
    return clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--faces", type=int, default=100, help="aligned faces in the folder row (default 100)")
    parser.add_argument("--frames", type=int, default=72, help="frames of the 720p clip (default 72, ~3 s)")
    parser.add_argument("--deface", help="a Python with deface 1.5.0, for the clip row beside faceobf")
    args = parser.parse_args()
    print_backends(False, f"faceobf for real use, profile {args.profile}")
    env = {"FACEOBF_PROFILE": args.profile}
    folder = Path(tempfile.mkdtemp(prefix="faceobf-speed-"))
    try:
        rows = []
        helps = [wall(TOOL + ["--help"], env) for _ in range(3)]
        rows.append(("faceobf --help (best of 3)", f"{min(helps):.2f} s"))
        photo = save(folder / "one.jpg", astronaut(910, 1137))
        first = wall(TOOL + ["obfuscate", str(photo), "-o", str(folder / "out1")], env)
        second = wall(TOOL + ["obfuscate", str(photo), "-o", str(folder / "out2")], env)
        rows.append(("faceobf obfuscate one.jpg (910x1137), first call", f"{first:.2f} s"))
        rows.append(("faceobf obfuscate one.jpg (910x1137), second call", f"{second:.2f} s"))

        tool = trained.obfuscator(get_profile(args.profile))
        tool.obfuscate_photo(data.astronaut())  # warm-up: compile
        for side in (1080, 4000):
            photo_rgb = astronaut(side, side)
            best = min((stages(tool, photo_rgb) for _ in range(2)), key=lambda t: t["total"])
            parts = ", ".join(f"{k} {best[k]:.2f}" for k in ("detection", "redraw", "blending", "last check"))
            rows.append((f"{side}x{side} photo, warm (s)", f"{best['total']:.2f} s ({parts})"))

        from faceobf.obfuscate.batch import obfuscate_files

        faces = folder / "faces"
        faces.mkdir()
        for k, face in enumerate(test_faces(args.faces)):
            cv2.imwrite(str(faces / f"{k:04d}.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
        inputs = [(p, folder / "faces_out" / p.name) for p in sorted(faces.glob("*.png"))]
        start = time.perf_counter()
        summary, _ = obfuscate_files(tool, inputs, folder / "faces_out", progress=False)
        seconds = time.perf_counter() - start
        rows.append((f"folder of {len(inputs)} aligned 178x218 faces", f"{len(inputs) / seconds:.1f} photos/s "
                     f"({summary.line()})"))

        from faceobf.evaluate.video_quality import clip_identity

        clip = two_face_clip(folder, args.frames)
        for key_every in (8, 1):  # key frames (the default) and the full detectors on every frame
            out = folder / f"clip_out_{key_every}"
            seconds = wall(TOOL + ["obfuscate", str(clip), "-o", str(out), "--key-every", str(key_every)], env)
            judged = clip_identity(clip, out / clip.name)
            step = judged["median_consecutive"]
            rows.append((f"720p clip, 2 faces, {args.frames} frames: faceobf --key-every {key_every} (whole command)",
                         f"{args.frames / seconds:.2f} frames/s ({seconds:.1f} s; HOG faces left uncovered "
                         f"{judged['uncovered_faces']}, dlib step along a track "
                         f"{'-' if step is None else f'{step:.2f}'})"))
        if args.deface:
            seconds = wall([args.deface, "-m", "deface.deface", str(clip), "-o", str(folder / "deface.mp4")])
            rows.append((f"720p clip, 2 faces, {args.frames} frames: deface 1.5.0 (whole command)",
                         f"{args.frames / seconds:.2f} frames/s ({seconds:.1f} s)"))

        big = save(folder / "big.jpg", astronaut(4000, 4000))
        seconds, peak = peak_memory(["obfuscate", str(big), "-o", str(folder / "big_out")], env)
        rows.append(("faceobf obfuscate on a 16-megapixel photo: peak memory", f"{peak:.0f} MB ({seconds:.1f} s)"))
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:{width}s}  {value}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
