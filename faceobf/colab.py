"""The chapters' first cell on Colab in one call: CelebA fetched once into /content, $FACEOBF_DATA set.

Sources are tried in order, each failure printed with its reason, until one gives a complete folder:
a local copy in any known layout (`$FACEOBF_CELEBA_SOURCE`, e.g. a folder in your mounted Google Drive),
the official Google Drive files (`gdown`, which often hits Drive's download quota), the Kaggle copy
(`kagglehub`, with Kaggle credentials; it lacks the identity file, which is then fetched alone from the
official Drive folder or read from `$FACEOBF_CELEBA_IDENTITIES`), and a mirror serving the official files
by name (`$FACEOBF_CELEBA_MIRROR`). Under the cpu profile it then cuts CelebA-mini out of it
(`faceobf.data.subset`), so that the shipped models are used. Off Colab the cell does nothing:
`FACEOBF_DATA` (see the README) tells the library where CelebA is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from faceobf.paths import DATA_ENV

COLAB_DATA = Path("/content/celeba")
SOURCE_ENV, IDENTITIES_ENV, MIRROR_ENV = "FACEOBF_CELEBA_SOURCE", "FACEOBF_CELEBA_IDENTITIES", "FACEOBF_CELEBA_MIRROR"


def _ready(root: Path) -> bool:
    from faceobf.data.annotations import read_annotations

    return not read_annotations(root).problems  # a missing file or image folder is a problem too


def _local_copy(root: Path) -> None:
    from faceobf.data.sources import import_source

    source = os.environ.get(SOURCE_ENV)
    if not source:
        raise LookupError(f"${SOURCE_ENV} is not set (a CelebA folder in any layout, e.g. in your mounted Drive)")
    import_source(source, root, identities=os.environ.get(IDENTITIES_ENV))


def _google_drive(root: Path) -> None:
    from faceobf.data.download import download_celeba

    download_celeba(root)


def _kaggle(root: Path) -> None:
    from faceobf.data.download import CELEBA_FILES, download_celeba
    from faceobf.data.sources import IDENTITY_FILE, KAGGLE_DATASET, import_source

    import kagglehub  # preinstalled on Colab; needs Kaggle credentials (Colab secrets or ~/.kaggle/kaggle.json)

    source = kagglehub.dataset_download(KAGGLE_DATASET)
    identities = os.environ.get(IDENTITIES_ENV)
    if identities is None:  # the Kaggle copy has no identity file: fetch that one small file from the official folder
        extra = root.parent / "celeba-identity"
        download_celeba(extra, files=[f for f in CELEBA_FILES if f.filename == IDENTITY_FILE], extract=False)
        identities = str(extra / IDENTITY_FILE)
    import_source(source, root, identities=identities)


def _mirror(root: Path) -> None:
    from faceobf.data.download import download_celeba

    url = os.environ.get(MIRROR_ENV)
    if not url:
        raise LookupError(f"${MIRROR_ENV} is not set (a base URL serving the official files by name)")
    download_celeba(root, url=url)


SOURCES: tuple[tuple[str, Callable[[Path], None]], ...] = (
    ("a local copy", _local_copy), ("Google Drive (official)", _google_drive), ("Kaggle", _kaggle), ("a mirror", _mirror),
)


def _is_mini(root: Path) -> bool:
    from faceobf.data.annotations import read_annotations
    from faceobf.data.subset import mini_names

    return read_annotations(root).names == mini_names()


def _fetch(root: Path, sources, log: Callable[[str], None]) -> None:
    """Fill `root` from the first source that gives a complete folder; RuntimeError naming every failure."""
    failures = []
    for name, fetch in sources:
        log(f"CelebA: trying {name} ...")
        try:
            fetch(root)
            if not _ready(root):
                raise ValueError(f"{root} is still incomplete (run `faceobf data check {root}`)")
        except Exception as exc:  # noqa: BLE001 - each source's failure is reported and the next one tried
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            log(f"CelebA: {name} failed: {exc}")
            continue
        log(f"CelebA from {name} in {root}")
        return
    raise RuntimeError("no CelebA source worked:\n" + "\n".join(failures))


def setup(root: str | os.PathLike = COLAB_DATA, sources=SOURCES, log: Callable[[str], None] = print,
          mini: bool | None = None) -> Path:
    """Point $FACEOBF_DATA at CelebA in `root` (unless already set), filled from the first source that works.

    With `mini` (default: when $FACEOBF_PROFILE is cpu) it points at CelebA-mini cut from it instead, the data
    set the shipped cpu models were trained on, so the chapters load them rather than train for hours."""
    from faceobf.data.subset import cut_subset
    from faceobf.profiles import PROFILE_ENV

    mini = os.environ.get(PROFILE_ENV) == "cpu" if mini is None else mini
    root = Path(os.environ.setdefault(DATA_ENV, str(root)))
    if _ready(root):
        log(f"CelebA in {root}")
    else:
        _fetch(root, sources, log)
    if not mini or _is_mini(root):
        return root
    target = root.with_name(root.name + "-mini")
    cut_subset(root, target, log=log)
    os.environ[DATA_ENV] = str(target)
    return target
