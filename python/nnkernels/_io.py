"""Weight files (.npz, no pickle): written atomically, read with a clear error.

write_npz writes into a temporary file in the destination's directory, flushes it to disk
and renames it over the destination (os.replace), so a crash, a full disk or an exception
at any point leaves either the old file or the new one, never a half-written file, and no
temporary behind. read_npz reads every array before returning, so a truncated or corrupt
file raises ValueError naming the op and the file before anything uses its contents.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
import zlib

import numpy as np


def write_npz(path, arrays: dict) -> None:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def read_npz(path, op: str) -> dict:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{op}: no such file {path!r}")
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, NotImplementedError) as e:
        raise ValueError(f"{op}: {path} is not a readable .npz weights file (truncated or corrupt?): "
                         f"{type(e).__name__}: {e}") from None
