"""The chapters' first cell on Colab in one call: CelebA fetched once into /content, $FACEOBF_DATA set.

Off Colab the cell does nothing: `FACEOBF_DATA` (see the README) tells the library where CelebA is.
"""

from __future__ import annotations

import os
from pathlib import Path

from faceobf.paths import DATA_ENV

COLAB_DATA = Path("/content/celeba")


def setup(root: str | os.PathLike = COLAB_DATA) -> Path:
    """Point $FACEOBF_DATA at `root` (unless already set) and download CelebA there when it is not there yet."""
    from faceobf.data.download import download_celeba

    root = Path(os.environ.setdefault(DATA_ENV, str(root)))
    if not (root / "list_attr_celeba.txt").exists() or not (root / "img_align_celeba").is_dir():
        download_celeba(root)
    print(f"CelebA in {root}")
    return root
