"""PyTorch-style layers: `import nnkernels.nn as nn` (one module per layer family, also
gathered in modules.py; functional ops in `nn.functional`, initialisers in `nn.init`)."""
from . import functional, init, utils  # noqa: F401
# Star imports of the families' literal __all__ lists (the form type checkers follow).
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
from . import modules  # noqa: E402
from . import parallel  # noqa: F401,E402  DistributedDataParallel (no MPI import until it is used)

__all__ = ["functional", "init", "parallel", "utils"] + modules.__all__
