"""``chainrule.cuda``: the probes PyTorch code asks before choosing a device.

    device = "cuda" if chainrule.cuda.is_available() else "cpu"

'cuda' is available when CuPy is installed and sees a GPU (``pip install chainrule[cuda]``), or
when the CPU stand-in is switched on for tests (``chainrule.backend.use_standin_cuda()``). Without
one, the probes answer as PyTorch's do on a machine without a GPU: False, 0, and the seeding calls
do nothing.

Random numbers: chainrule draws them on the host from the one generator that
``chainrule.manual_seed`` seeds, and copies them to the device, so a seed gives the same numbers on
every device (PyTorch keeps a separate generator per GPU). ``cuda.manual_seed`` therefore seeds
that same generator when a GPU is present.
"""

from __future__ import annotations

from .backend import cuda_backend
from .device import check_device

__all__ = ["is_available", "is_initialized", "device_count", "current_device", "manual_seed",
           "manual_seed_all", "synchronize", "empty_cache", "get_device_name"]


def is_available() -> bool:
    """True when chainrule can put tensors on 'cuda' here."""
    return cuda_backend() is not None


def is_initialized() -> bool:
    """True once the GPU's library has been found (as ``is_available``)."""
    return cuda_backend() is not None


def device_count() -> int:
    """1 when 'cuda' is available (chainrule uses one GPU, index 0), else 0."""
    return 1 if cuda_backend() is not None else 0


def current_device() -> int:
    """0, the one GPU chainrule uses; refused without one."""
    check_device("cuda.current_device", "cuda")
    return 0


def get_device_name(device=None) -> str:
    """The GPU's name as its driver reports it ('CPU stand-in' for the test device)."""
    check_device("cuda.get_device_name", "cuda" if device is None else device)
    backend = cuda_backend()
    if backend.name != "cupy":
        return "CPU stand-in"
    props = backend.xp.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait until the GPU has finished the work queued so far (for timing); refused without one."""
    check_device("cuda.synchronize", "cuda" if device is None else device)
    cuda_backend().synchronize()


def empty_cache() -> None:
    """Give the GPU memory CuPy holds in its pool but no array uses back to the driver; nothing to
    do without a GPU."""
    backend = cuda_backend()
    if backend is not None and backend.name == "cupy":
        backend.xp.get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed the generator device draws come from (chainrule's one generator, see the module's
    docstring); does nothing without a GPU, as ``torch.cuda.manual_seed``."""
    if cuda_backend() is not None:
        from .random import manual_seed as seed_all

        seed_all(seed)


def manual_seed_all(seed: int) -> None:
    """The same as ``manual_seed``: chainrule uses one GPU."""
    manual_seed(seed)
