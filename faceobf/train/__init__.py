"""Training loops over explicit state, with orbax checkpoints that resume."""
