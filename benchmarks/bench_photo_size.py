"""Faces at photo size: the detail ratio, dlib's verdict and HOG's re-detection of redrawn faces, and seconds per photo,
for the 64 px path (resampled, pasted plain: the tool before issue 22) against the upscalers (the L1 one, and the
default fine-tuned from it against a PatchGAN) and the matched paste-backs.

Every face the tool redraws that is at least --min-width pixels wide, on every photo of FOLDER (unaligned photos:
photos-dev, or your own); then the astronaut scaled to 1080p, the seconds of each path side by side.

    python benchmarks/bench_photo_size.py FOLDER [--profile cpu] [--min-width 100] [--limit N] [--adv-weight W ...]

--adv-weight W adds the upscaler fine-tuned against a PatchGAN at W (`faceobf train upscaler --adv-weight W`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import cv2
import pandas as pd
from skimage import data

from common import print_backends
from faceobf import trained
from faceobf.evaluate.photo_quality import photo_readings, summarise
from faceobf.obfuscate.inputs import collect_inputs
from faceobf.profiles import get_profile, with_upscaler_adversary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a folder of photos")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--min-width", type=int, default=100, help="faces at least this wide (pixels) are measured")
    parser.add_argument("--limit", type=int, help="the first N photos (sorted by name)")
    parser.add_argument("--adv-weight", type=float, action="append", default=[],
                        help="also measure the upscaler trained with this adversarial weight (repeatable)")
    args = parser.parse_args()
    print_backends(False, f"faces at photo size, profile {args.profile}")
    profile = get_profile(args.profile)
    with_upscaler, without = trained.obfuscator(profile, upscale=True), trained.obfuscator(profile, upscale=False)
    l1_only = trained.obfuscator(with_upscaler_adversary(profile, 0.0), upscale=True)  # ESRGAN's first phase alone
    tools = {"64 px, plain paste": replace(without, paste="plain"), "64 px, matched paste": without,
             "L1 upscaler, plain paste": replace(l1_only, paste="plain"), "L1 upscaler, matched paste": l1_only,
             "upscaler, plain paste": replace(with_upscaler, paste="plain"),
             "upscaler, matched paste (default)": with_upscaler, "upscaler, Poisson + grain": replace(with_upscaler, paste="poisson")}
    for weight in (w for w in args.adv_weight if w not in (0.0, profile.upscaler_train.adv_weight)):  # not a listed tool again
        adversarial = trained.obfuscator(with_upscaler_adversary(profile, weight), upscale=True)
        tools[f"128 px upscaler adv {weight:g}, plain paste"] = replace(adversarial, paste="plain")
        tools[f"128 px upscaler adv {weight:g}, matched paste"] = adversarial
    astronaut = data.astronaut()
    for tool in tools.values():
        tool.obfuscate_photo(astronaut)  # compile each path once
    paths = sorted((i.path for i in collect_inputs([args.folder]) if not i.refusal), key=lambda p: p.name)[: args.limit]
    readings = photo_readings(tools, paths, args.min_width, log=print)
    pd.set_option("display.width", 200)
    print(f"\n{len(paths)} photos, faces redrawn at >= {args.min_width} px:")
    print(summarise(readings).round(3).to_string())
    photo = cv2.resize(astronaut, (1080, 1080), interpolation=cv2.INTER_CUBIC)
    print("\nastronaut at 1080 x 1080, best of 3 (s):")
    for name, tool in tools.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            tool.obfuscate_photo(photo)
            best = min(best, time.perf_counter() - start)
        print(f"  {name:40s} {best:.2f}")


if __name__ == "__main__":
    main()
