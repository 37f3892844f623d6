import numpy as np
import pytest

import chainrule


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same library seed."""
    chainrule.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def cuda():
    """The 'cuda' device: the GPU where CuPy finds one, else the CPU stand-in whose arrays refuse
    implicit conversion to NumPy as CuPy's do (chainrule.standin), so device code is tested on
    every machine. Yields the device's array library's name ('cupy' or 'standin')."""
    from chainrule import backend

    real = backend.cuda_backend()
    if real is None or real.name != "cupy":
        backend.use_standin_cuda(True)
    try:
        yield backend.cuda_backend().name
    finally:
        if real is None or real.name != "cupy":
            backend.use_standin_cuda(False)
        chainrule.set_default_device(None)
