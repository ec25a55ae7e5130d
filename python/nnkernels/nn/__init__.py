"""PyTorch-style layers: `import nnkernels.nn as nn` (one module per layer family, gathered
in modules.py; functional ops in `nn.functional`, initialisers in `nn.init`)."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _mods
from . import parallel  # noqa: F401,E402  DistributedDataParallel (no MPI import until it is used)

__all__ = ["functional", "init", "parallel", "utils"] + list(_mods)
