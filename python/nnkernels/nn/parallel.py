"""torch.nn.parallel names: `nn.parallel.DistributedDataParallel` (it lives, with the rest of
the communication code, in nnkernels.distributed.ddp)."""
from ..distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
