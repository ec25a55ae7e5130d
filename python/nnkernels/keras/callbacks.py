"""Keras callbacks: History (always on), EarlyStopping, ModelCheckpoint, LambdaCallback."""
from __future__ import annotations

import numpy as np

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LambdaCallback"]


class Callback:
    model = None
    writes_files = False  # under a process group, such callbacks run on rank 0 only

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass


class History(Callback):
    """`history.history` maps each logged name to its list of per-epoch values."""

    def on_train_begin(self, logs=None):
        self.epoch, self.history = [], {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, keys=None, title=None, figsize=None):
        """Draw the logs against the epoch with matplotlib and return the Figure: one panel
        per quantity (loss, then each metric), its `val_` twin dashed in the same panel.
        `keys` picks quantities (default: all logged). Needs matplotlib (the `examples` extra):

            history = model.fit(...)
            history.plot().savefig("curves.png")
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib "
                              "(or the extra: pip install 'nnkernels[examples]')") from e
        logged = getattr(self, "history", None) or {}
        base = [k for k in logged if not k.startswith("val_")]
        base += [k[4:] for k in logged if k.startswith("val_") and k[4:] not in base]
        keys = base if keys is None else [keys] if isinstance(keys, str) else list(keys)
        unknown = [k for k in keys if k not in logged and "val_" + k not in logged]
        if unknown or not keys:
            raise ValueError(f"History.plot: nothing logged under {unknown or keys}; logged: {sorted(logged)}")
        fig, axes = plt.subplots(1, len(keys), figsize=figsize or (4.2 * len(keys), 3.4), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, k in zip(axes[0], keys):
            for name, style in ((k, "-"), ("val_" + k, "--")):
                if name in logged:
                    ax.plot(epochs[:len(logged[name])], logged[name], style, marker=".",
                            label="validation" if name.startswith("val_") else "training")
            ax.set(xlabel="epoch", title=k)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


def _mode(mode, monitor, cls):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, abs(min_delta), patience, verbose
        self.mode = _mode(mode, monitor, "EarlyStopping")
        self.baseline, self.restore_best_weights, self.start_from_epoch = baseline, restore_best_weights, start_from_epoch

    def _better(self, a, b):
        return a < b - self.min_delta if self.mode == "min" else a > b + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        self.best = self.baseline if self.baseline is not None else (np.inf if self.mode == "min" else -np.inf)

    def on_epoch_end(self, epoch, logs=None):
        v = (logs or {}).get(self.monitor)
        if v is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._better(v, self.best):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Like Keras 3: with restore_best_weights the best epoch's weights come back at the end
        of training, whether it stopped early or ran all its epochs."""
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the weights after each epoch (or only when `monitor` improves) to `filepath`, which
    may hold `{epoch}` and log names, e.g. 'ckpt-{epoch:02d}-{val_loss:.2f}.weights.npz'."""

    writes_files = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        if not str(filepath).endswith((".weights.npz", ".weights.h5", ".keras")):
            raise ValueError(f"ModelCheckpoint: filepath must end with '.weights.h5', '.weights.npz' or "
                             f"'.keras', got {filepath!r}")
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, got {save_freq!r}")
        self.filepath, self.monitor, self.verbose, self.save_best_only = str(filepath), monitor, verbose, save_best_only
        self.mode = _mode(mode, monitor, "ModelCheckpoint")
        init = initial_value_threshold
        self.best = init if init is not None else (np.inf if self.mode == "min" else -np.inf)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            v = logs.get(self.monitor)
            if v is None or not (v < self.best if self.mode == "min" else v > self.best):
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {v:.5f}, "
                      f"saving model to {path}")
            self.best = v
        if path.endswith(".keras"):
            self.model.save(path)
        else:
            self.model.save_weights(path)


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_end=None):
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)
