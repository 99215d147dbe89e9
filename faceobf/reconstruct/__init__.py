"""Stage 2, chapter 2: the factors as U-Net input, attribute planes, compositing, and the trained U-Net as a generator."""
