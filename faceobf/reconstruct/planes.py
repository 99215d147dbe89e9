"""The attribute factor of stage 2: the 40 attributes encoded as image planes.

Two encodings, one per model config (`AttributeEncoding`):

* `onehot`: plane j is all ones where attribute j is present and all zeros otherwise (the seed's
  final report).
* `word2vec`: a gensim Word2Vec in CBOW mode (`sg=0`) is trained on one "sentence" per training
  image, the names of its present attributes in file order (the seed's mid-term plan). With
  `vector_size = side**2` (default 16 = 4x4), attribute j's vector is laid out row-major as a
  side x side map and resized (nearest neighbour) to the image: present attributes carry their map,
  absent ones a zero plane (the "null matrix").

Training is deterministic: one worker, a fixed seed and a stable hash for the initial vectors
(gensim's default, Python's `hash`, is salted per process). The model is saved like a checkpoint.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from faceobf.errors import UsageError
from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.io import atomic_path
from faceobf.models.factored import FactoredPlanes

ENCODINGS = ("onehot", "word2vec")


@dataclass(frozen=True)
class Word2VecConfig:
    """CBOW word2vec over per-image attribute sentences."""

    side: int = 4  # vector_size = side * side, laid out as a side x side map
    window: int = 40  # a whole sentence is one context: attributes have no natural order
    epochs: int = 50
    negative: int = 5
    seed: int = 0

    @property
    def vector_size(self) -> int:
        return self.side * self.side


def attribute_sentences(attributes: np.ndarray, names: Sequence[str] = CELEBA_ATTRIBUTES) -> list[list[str]]:
    """One sentence per image: the names of its present attributes, in file order."""
    return [[names[j] for j in np.flatnonzero(row)] for row in np.asarray(attributes)]


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


def train_word2vec(attributes: np.ndarray, config: Word2VecConfig = Word2VecConfig()):
    """A deterministic CBOW Word2Vec over the attribute sentences of `attributes` (N, 40)."""
    from gensim.models import Word2Vec

    sentences = [s for s in attribute_sentences(attributes) if s]
    return Word2Vec(
        sentences, vector_size=config.vector_size, window=config.window, min_count=1, sg=0, workers=1,
        seed=config.seed, epochs=config.epochs, negative=config.negative, hashfxn=_stable_hash, sorted_vocab=1,
    )


def save_word2vec(model, path: str | Path) -> None:
    """Save a gensim model atomically (a reader never sees half a file)."""
    with atomic_path(path, suffix=".w2v") as tmp:
        model.save(str(tmp))


def load_word2vec(path: str | Path):
    from gensim.models import Word2Vec

    return Word2Vec.load(str(path))


def embedding_table(model, config: Word2VecConfig) -> np.ndarray:
    """(40, side, side) float32: each attribute's vector as a map; an attribute never seen gets zeros."""
    table = np.zeros((len(CELEBA_ATTRIBUTES), config.side, config.side), np.float32)
    for j, name in enumerate(CELEBA_ATTRIBUTES):
        if name in model.wv:
            table[j] = model.wv[name].reshape(config.side, config.side)
    return table


def onehot_table(side: int = 1) -> np.ndarray:
    """(40, side, side) of ones: the one-hot encoding in the same table form as word2vec."""
    return np.ones((len(CELEBA_ATTRIBUTES), side, side), np.float32)


def attribute_planes(attributes: np.ndarray, table: np.ndarray, resolution: int) -> np.ndarray:
    """(B, R, R, 40) planes: plane j is table[j] resized (nearest neighbour) to R x R where attribute j is present, else 0.

    The dense form of `FactoredPlanes.nearest`, which the networks use without building it.
    """
    return np.asarray(FactoredPlanes.nearest(attributes, table, resolution).dense())


def attribute_table(encoding: str, train_attributes: np.ndarray, run_dir: Path, w2v: Word2VecConfig = Word2VecConfig()) -> np.ndarray:
    """The (40, s, s) attribute table of `encoding`; word2vec is trained once and saved in the run folder."""
    if encoding not in ENCODINGS:
        raise UsageError(f"unknown attribute encoding {encoding!r}; choose one of {ENCODINGS}")
    if encoding == "onehot":
        return onehot_table()
    path = Path(run_dir) / "word2vec.model"
    if path.exists():
        return embedding_table(load_word2vec(path), w2v)
    model = train_word2vec(train_attributes, w2v)
    save_word2vec(model, path)
    return embedding_table(model, w2v)
