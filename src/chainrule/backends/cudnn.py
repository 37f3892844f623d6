"""``chainrule.backends.cudnn``: the flags seeding code sets; chainrule uses no cuDNN, so they
are kept as set and change nothing."""

enabled = True
benchmark = False
deterministic = False


def is_available() -> bool:
    """False: chainrule uses no cuDNN."""
    return False
