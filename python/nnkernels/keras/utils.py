"""keras.utils helpers."""
import numpy as np

__all__ = ["to_categorical", "set_random_seed"]


def to_categorical(y, num_classes=None, dtype="float32"):
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    n = int(y.max()) + 1 if num_classes is None else num_classes
    return np.eye(n, dtype=dtype)[y]


def set_random_seed(seed):
    from .. import autograd
    autograd.manual_seed(seed)
    np.random.seed(seed)
