"""Photos per second of `faceobf obfuscate` on a folder: the local engine, and Ray with 1..N workers.

Each run writes into a fresh output folder; model loading is included, as a user's run pays it (Ray pays
it once per worker). Ray runs on a local instance with as many CPUs as this machine has.

    python benchmarks/bench_engine.py FOLDER [--profile cpu] [--limit 40] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from functools import partial
from pathlib import Path

from common import print_backends
from faceobf import trained
from faceobf.obfuscate.batch import collect_inputs, obfuscate_files
from faceobf.profiles import get_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--limit", type=int, default=40, help="the first N photos (by name)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    args = parser.parse_args()
    print_backends(False, f"engines, profile {args.profile}")
    inputs = sorted((i for i in collect_inputs([args.folder]) if not i.refusal), key=lambda i: i.path.name)[: args.limit]
    make = partial(trained.obfuscator, get_profile(args.profile))
    runs = [("local", None)] + [("ray", n) for n in args.workers]
    for engine, workers in runs:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary, _ = obfuscate_files(make, inputs, Path(tmp), progress=False, engine=engine, workers=workers, allow_no_face=True)
            seconds = time.perf_counter() - start
        label = engine if workers is None else f"ray, {workers} worker(s)"
        print(f"{label:20s} {len(inputs)} photos in {seconds:6.1f} s: {len(inputs) / seconds:.2f} photos/s ({summary.line()})", flush=True)


if __name__ == "__main__":
    main()
