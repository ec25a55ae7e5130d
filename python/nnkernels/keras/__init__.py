"""Keras-style training on nnkernels: the `tf.keras` paths, channels-last images.

    from nnkernels.keras import layers, models
    model = models.Sequential([layers.Dense(10, activation='softmax', input_shape=(40,))])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(x, y, epochs=5)

The layers are a thin veneer over `nnkernels.nn` modules; training is
forward -> `loss.backward()` -> `optimizer.step()` on the nnkernels kernels.
"""
from . import callbacks, initializers, layers, losses, metrics, models, ops, optimizers, utils  # noqa: F401
from .layers import Input, Layer  # noqa: F401
from .models import Model, Sequential  # noqa: F401

__all__ = ["Sequential", "Model", "Input", "Layer", "layers", "models", "optimizers", "losses", "metrics",
           "callbacks", "utils", "ops", "initializers"]
