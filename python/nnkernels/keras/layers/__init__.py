"""Keras layers (the `keras.layers` names), one module per family:

base (Layer, Input, Variable), core (Dense, Embedding, Dropout, activations), conv,
pooling, reshaping, rnn, normalization, attention, merging.
"""
from .attention import *  # noqa: F401,F403
from .base import Input, InputLayer, KerasTensor, Layer, Variable  # noqa: F401
from .conv import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .merging import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .reshaping import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .base import _flat, _map, get_activation  # noqa: F401  (used by keras.models)
