"""What every benchmark prints first: the JAX backend, the cores and, when compared, PyTorch."""

from __future__ import annotations

import os


def print_backends(with_torch: bool, what: str = "") -> None:
    """One line for JAX (backend, device, cores) and one for PyTorch (version, threads) when it is compared."""
    import jax

    print(f"JAX {jax.__version__} ({jax.default_backend()}: {jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores" + (f"; {what}" if what else ""))
    if with_torch:
        import torch

        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN {torch.backends.mkldnn.is_available()}")
