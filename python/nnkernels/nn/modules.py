"""Layers in the PyTorch style: `__init__` creates parameters (torch's default
initialisation), `forward` calls `nnkernels.nn.functional`; shapes follow torch (NCHW).
One module per family (module, container, linear, activation, conv, pooling,
normalization, rnn, attention, loss); this module gathers their public names."""
from __future__ import annotations

from .module import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import IncompatibleKeys, StateDictError  # noqa: F401

from . import module, container, linear, activation, conv, pooling, normalization, rnn, attention, loss  # noqa: E402

__all__ = [n for m in (module, container, linear, activation, conv, pooling, normalization, rnn, attention, loss)
           for n in m.__all__]
