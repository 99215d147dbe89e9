"""The `faceobf` command's subcommands, one module per group; each adds its parsers and holds what they run.

Heavy modules (JAX, the models, the data) are imported inside the commands, so `faceobf --help` stays quick.
"""
