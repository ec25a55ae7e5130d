import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from twin import LIBS, get  # noqa: E402


@pytest.fixture(params=LIBS)
def T(request):
    """The library under test: nnkernels, or real torch when installed."""
    return get(request.param)
