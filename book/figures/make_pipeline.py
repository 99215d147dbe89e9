"""Draw the 3-stage diagram used by the README and the introduction: python book/figures/make_pipeline.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BOXES = {
    "face": (0.02, 0.40, "face image\n(CelebA, aligned)", "#dddddd"),
    "lm": (0.22, 0.72, "68 landmarks\n(dlib HOG detector +\nshape predictor) -> heatmaps", "#cfe8ff"),
    "ctx": (0.22, 0.40, "context\n(face blacked out by\nan OpenCV ellipse)", "#cfe8ff"),
    "attr": (0.22, 0.08, "40 attributes\n(ResNet-50 classifier)", "#cfe8ff"),
    "flip": (0.50, 0.08, "flip chosen attributes\n(Pointy_Nose, Smiling,\nYoung, Big_Nose)", "#ffe2b8"),
    "unet": (0.74, 0.40, "U-Net\n(L1 + PatchGAN)", "#d7f5d0"),
    "out": (0.89, 0.40, "obfuscated\nface", "#dddddd"),
}
W, H = 0.2, 0.2


def main(out: Path = Path(__file__).with_name("pipeline.png")) -> None:
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1)
    ax.axis("off")
    centers = {}
    for key, (x, y, text, color) in BOXES.items():
        w = 0.12 if key in ("face", "out", "unet") else W
        ax.add_patch(FancyBboxPatch((x, y), w, H, boxstyle="round,pad=0.01", fc=color, ec="#444444"))
        ax.text(x + w / 2, y + H / 2, text, ha="center", va="center", fontsize=8.5)
        centers[key] = (x, y, w)

    def arrow(a, b, label=None):
        xa, ya, wa = centers[a]
        xb, yb, wb = centers[b]
        p = FancyArrowPatch((xa + wa, ya + H / 2), (xb, yb + H / 2), arrowstyle="-|>", mutation_scale=12, color="#333333")
        ax.add_patch(p)

    for target in ("lm", "ctx", "attr"):
        arrow("face", target)
    arrow("attr", "flip")
    arrow("lm", "unet")
    arrow("ctx", "unet")
    arrow("flip", "unet")
    arrow("unet", "out")
    for x, y, label in ((0.35, 0.98, "Stage 1: disentangle"), (0.60, 0.36, "Stage 3: obfuscate"), (0.78, 0.68, "Stage 2: reconstruct")):
        ax.text(x, y, label, ha="center", va="top", fontsize=10, weight="bold")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
