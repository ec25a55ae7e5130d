"""The Tensor core: `Tensor` (grad mode, the backward walk, devices), the `Function` base
class, and the small closure ops the Tensor methods use (elementwise, reduce, shape).

Layering (each layer imports only the ones below it):

    core/            NumPy, ops/_common.py's helpers          Tensor, Function
    ops/<family>.py  core, ops/_common.py, the backends        array op + its Function
    autograd/        core, ops                                 nk.<op> dispatchers, idioms
    nn, optim, keras autograd, ops                             layers and training

ops/<family>.py binds the kernel-backed Tensor methods (`.relu()`, `@`, `.softmax()`)
itself, through `function.differentiable`; nothing here imports a layer above.
"""
from . import tensor  # noqa: F401  first: function, elementwise, reduce and shape build on it
from . import function  # noqa: F401,E402
