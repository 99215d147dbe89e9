"""Stage 3, chapter 3: flip policies and the tool that redraws every face of a photo (or fails closed)."""
