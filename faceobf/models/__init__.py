"""Neural networks of faceobf, written with flax.nnx."""
