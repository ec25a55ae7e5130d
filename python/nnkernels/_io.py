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


# ------------------------------------------------------------ nk.save / nk.load
# Three layouts, all in the same atomic .npz (never an object array, so np.load always runs
# with allow_pickle=False):
#   flat   a dict of name -> array/Tensor: one .npz entry per name (readable by np.load);
#   tree   nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None (a checkpoint:
#          {'model': sd, 'optimizer': opt_sd, 'epoch': 3}): the arrays as entries a0, a1, ...
#          and the structure as JSON bytes under STRUCT;
#   pickle anything else (a whole Module): pickle bytes under PICKLE, read back only with
#          load(..., weights_only=False), as torch.load refuses it by default.
STRUCT, PICKLE = "__nnkernels_structure__", "__nnkernels_pickle__"


def _is_array(v):
    from .autograd import Tensor
    return isinstance(v, (Tensor, np.ndarray))


def _as_np(v):
    from .autograd import Tensor
    return np.asarray(v.numpy() if isinstance(v, Tensor) else v)


def _encode(v, arrays):
    """The JSON node for v; its arrays go into `arrays`. TypeError when v has no tree form."""
    from .autograd import Tensor
    if v is None or isinstance(v, (bool, str)):
        return {"t": "v", "v": v}
    if isinstance(v, (int, np.integer)):
        return {"t": "int", "v": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"t": "float", "v": repr(float(v))}
    if _is_array(v):
        k = f"a{len(arrays)}"
        a = _as_np(v)
        if a.dtype.kind not in "biufc":
            raise TypeError(f"an array of dtype {a.dtype} has no tree form")
        arrays[k] = a
        node = {"t": "tensor" if isinstance(v, Tensor) else "array", "k": k}
        if isinstance(v, Tensor) and v.requires_grad:
            node["rg"] = True
        return node
    if isinstance(v, (list, tuple)):
        return {"t": "list" if isinstance(v, list) else "tuple", "v": [_encode(x, arrays) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "v": [[_encode(k, arrays), _encode(x, arrays)] for k, x in v.items()]}
    raise TypeError(f"{type(v).__name__} has no tree form")


def _decode(node, arrays):
    from collections import OrderedDict
    from .autograd import Tensor
    t = node["t"]
    if t == "v":
        return node["v"]
    if t == "int":
        return int(node["v"])
    if t == "float":
        return float(node["v"])
    if t == "array":
        return arrays[node["k"]]
    if t == "tensor":
        return Tensor(arrays[node["k"]], requires_grad=node.get("rg", False))
    if t in ("list", "tuple"):
        xs = [_decode(x, arrays) for x in node["v"]]
        return xs if t == "list" else tuple(xs)
    if t == "dict":
        return OrderedDict((_decode(k, arrays), _decode(x, arrays)) for k, x in node["v"])
    raise ValueError(f"unknown node type {t!r}")


def pack(obj) -> dict:
    """The .npz entries that hold obj (see the layouts above)."""
    import json
    import pickle
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and k not in (STRUCT, PICKLE) and _is_array(v)
                                             for k, v in obj.items()):
        return {k: _as_np(v) for k, v in obj.items()}
    arrays = {}
    try:
        node = _encode(obj, arrays)
    except TypeError:
        return {PICKLE: np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)}
    arrays[STRUCT] = np.frombuffer(json.dumps(node).encode(), np.uint8)
    return arrays


def unpack(arrays: dict, path, weights_only):
    import json
    import pickle
    from .autograd import Tensor
    if PICKLE in arrays:
        if weights_only is not False:
            raise pickle.UnpicklingError(
                f"load: {path} holds a pickled Python object (saved with nk.save(obj) for an obj that is not "
                f"tensors, numbers, strings, lists and dicts, e.g. a whole Module); unpickling runs code from "
                f"the file, so it needs load(..., weights_only=False): pass it only for a file you trust")
        return pickle.loads(arrays[PICKLE].tobytes())
    if STRUCT in arrays:
        return _decode(json.loads(arrays.pop(STRUCT).tobytes().decode()), arrays)
    from collections import OrderedDict
    return OrderedDict((k, Tensor(v)) for k, v in arrays.items())
