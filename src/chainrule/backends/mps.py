"""``chainrule.backends.mps``: Apple's GPU backend, which chainrule does not have."""


def is_available() -> bool:
    """False: chainrule runs on the CPU only."""
    return False


def is_built() -> bool:
    """False: chainrule is not built with MPS."""
    return False
