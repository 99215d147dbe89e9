"""Training, chapters 1 and 2: one loop over explicit state (`loop.fit`), the FAC and U-Net trainers, checkpoints."""
