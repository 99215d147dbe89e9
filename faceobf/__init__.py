"""faceobf: identity obfuscation in face images by disentangling, reconstructing and flipping attributes.

The package follows the book, one subpackage per stage:

* `faceobf.disentangle` (chapter 1): landmarks, the face ellipse, the template, the 40 attributes and
  the trained attribute classifier as a batched function;
* `faceobf.reconstruct` (chapter 2): the three factors as U-Net input, attribute planes (one-hot,
  word2vec), compositing and image metrics, the trained U-Net as a batched generator;
* `faceobf.obfuscate` (chapter 3): flip policies, alignment, the whole-photo pipeline that fails
  closed, photo I/O, batch runs and the blur / pixelate / black-out baselines;
* `faceobf.evaluate` (chapter 4): recognisers, metrics, the protocol, the seed's test, human sheets.

Beside them: `data` (CelebA), `models` (the flax.nnx networks), `train` (one training loop and the
trainers), `runs` (the run registry), `inference` (a trained model as a jitted batched function),
`profiles` (every budget and model configuration), `colab` (the chapters' Colab setup) and the CLI.
"""

__version__ = "0.1.0"

from faceobf import runtime as _runtime

_runtime.configure()  # before JAX starts: XLA:CPU's own convolutions and the compilation cache on disk
