"""PyTorch-style layers: `import nnkernels.nn as nn` (see modules.py; functional ops in
`nn.functional`, initialisers in `nn.init`)."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _mods

__all__ = ["functional", "init", "utils"] + list(_mods)
