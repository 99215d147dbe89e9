"""faceobf: identity obfuscation in face images by disentangling, reconstructing and flipping attributes."""

__version__ = "0.1.0"
