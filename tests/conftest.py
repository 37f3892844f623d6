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
