"""Repository-level pytest hooks: chapters need real CelebA, so without FACEOBF_DATA they are skipped
with a reason instead of failing (the unit tests build their own fixtures and always run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = os.environ.get("FACEOBF_DATA")
    if root and Path(root).is_dir():
        return
    skip = pytest.mark.skip(reason="the chapters run on real CelebA: set FACEOBF_DATA to a CelebA folder")
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(skip)
