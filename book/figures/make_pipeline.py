"""Draw the book's pipeline figure with today's code on one photo (the astronaut), every panel computed by the library:
python book/figures/make_pipeline.py [--profile cpu]

Stage 1 takes the face apart (landmarks, context, attributes); stage 3 flips the seed's four attributes and moves the
landmarks with them; stage 2 redraws the face, and the tool upscales it and pastes it back into the photo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402

from faceobf import trained, viz  # noqa: E402
from faceobf.disentangle.align import CROP, apply_affine, similarity_to_template  # noqa: E402
from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES  # noqa: E402
from faceobf.disentangle.masking import mask_face  # noqa: E402
from faceobf.evaluate.photo_quality import box_window  # noqa: E402
from faceobf.obfuscate.detect import detect  # noqa: E402
from faceobf.obfuscate.policies import flipped_names  # noqa: E402
from faceobf.profiles import get_profile  # noqa: E402

OUT = Path(__file__).with_name("pipeline.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args()
    viz.book_style()
    tool = trained.obfuscator(get_profile(args.profile))
    photo = data.astronaut()
    face = max((f for f in detect(photo, tool.detection) if f.redrawable), key=lambda f: f.width)
    matrix = similarity_to_template(face.landmarks)
    crop = cv2.warpAffine(photo, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    points = apply_affine(matrix, face.landmarks)
    context, _ = mask_face(crop, points)
    attributes, targets = tool.choose([crop], [points], [0])
    scale = tool.resolution / CROP
    moved = tool.generator.drawn_landmarks(points[None] * scale, targets, attributes)[0] / scale
    redrawn = tool.redraw([crop], [points], [0], chosen=(attributes, targets))[0]
    output, _ = tool.obfuscate_photo(photo)
    window = box_window(face.box, 0.5)

    fig, axes = plt.subplots(2, 4, figsize=(viz.COLUMN_IN, 4.3))
    present = [CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(attributes[0])][:7]
    flips = flipped_names(attributes, targets)[0]
    panels = [
        (photo[window], "the photo's face"), (crop, "68 landmarks"), (context, "context"), (None, "attributes"),
        (None, "flipped"), (crop, "landmarks moved"), (redrawn.face, "redrawn (U-Net)"), (output[window], "pasted back"),
    ]
    for ax, (image, title) in zip(axes.flat, panels):
        ax.set_title(title)
        ax.axis("off")
        if image is not None:
            ax.imshow(image)
    viz.draw_landmarks(axes[0, 1], points, size=5)
    axes[1, 1].scatter(points[:, 0], points[:, 1], s=5, c="#bbbbbb", linewidths=0)
    viz.draw_landmarks(axes[1, 1], moved, size=5)
    axes[0, 3].text(0, 1, "\n".join(present), va="top", family="monospace")
    axes[1, 0].text(0, 1, "\n".join(f"{'+' if targets[0, CELEBA_ATTRIBUTES.index(n)] else '-'}{n}" for n in flips),
                    va="top", family="monospace")
    fig.text(0.01, 0.985, "Stage 1: disentangle", weight="bold", va="top")
    fig.text(0.01, 0.515, "Stage 3: flip and move the landmarks; stage 2: redraw; the tool pastes back", weight="bold",
             va="top")
    fig.tight_layout(rect=(0, 0, 1, 0.96), h_pad=3.2)
    fig.savefig(OUT, dpi=viz.DPI)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
