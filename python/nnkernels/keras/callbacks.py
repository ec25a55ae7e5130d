"""Keras callbacks: History (always on), EarlyStopping, ModelCheckpoint, LambdaCallback,
LearningRateScheduler, ReduceLROnPlateau, CSVLogger."""
from __future__ import annotations

import csv
import os

import numpy as np

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LambdaCallback", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger"]


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


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate to `schedule(epoch, lr)` (or `schedule(epoch)`) at the
    start of each epoch; logs it as 'learning_rate'."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (int, float, np.floating)):
            raise ValueError(f"LearningRateScheduler: the schedule must return a number, got {new!r}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` (not below min_lr) when `monitor` has not improved
    by min_delta for `patience` epochs; then wait `cooldown` epochs before counting again."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), patience, verbose
        self.mode = _mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter = 0, 0
        self.best = np.inf if self.mode == "min" else -np.inf

    def _better(self, a, b):
        return a < b - self.min_delta if self.mode == "min" else a > b + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = float(opt.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    opt.learning_rate = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                              f"{opt.learning_rate}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """One CSV row per epoch: 'epoch' then the logged values (names sorted), a header first."""

    writes_files = True

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.sep, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer, self._keys, self._header = None, None, not has_rows

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys, delimiter=self.sep)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()
