"""The model file: one zip holding ``metadata.json`` and ``arrays/<name>.npy``. No pickle anywhere.

Writes are atomic: the archive is written to a temporary file in the same folder,
flushed to disk, then moved over the target with ``os.replace``; a crash or an
error mid-save leaves any old file untouched. Reading never executes code:
JSON for metadata and ``np.load(..., allow_pickle=False)`` for arrays.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from ..errors import ModelFileError

MAGIC = "minilstm-model"
FORMAT_VERSION = 1
_MAX_BYTES = 4 << 30  # refuse archives that claim more than 4 GiB uncompressed


def _plain(o):
    """JSON fallback for NumPy scalars and arrays (never objects)."""
    if isinstance(o, (np.generic, np.ndarray)) and o.dtype.kind in "biuf":
        return o.tolist()
    raise TypeError(f"cannot store a {type(o).__name__} in a model file's metadata")


def write_model_file(path, meta, arrays):
    """Atomically write ``meta`` (JSON-serialisable dict) and ``arrays`` (name -> np.ndarray) to ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot save to {path!r}: folder {folder!r} does not exist. Create it first.")
    if os.path.isdir(path):
        raise ModelFileError(f"cannot save to {path!r}: it is a folder; give a file name inside it.")
    meta = {"magic": MAGIC, "format_version": FORMAT_VERSION, **meta}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".minilstm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("metadata.json", json.dumps(meta, indent=1, allow_nan=True, default=_plain))
                for name, a in arrays.items():
                    buf = io.BytesIO()
                    np.save(buf, np.asarray(a), allow_pickle=False)
                    z.writestr(f"arrays/{name}.npy", buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_model_file(path):
    """Return (meta, arrays) from a model file, or raise ``ModelFileError`` saying what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"no model file at {path!r}: check the path (save one with model.save(path)).")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path!r} is not a minilstm model file (not a zip archive): it may be truncated, "
                             "corrupted, or another format (minilstm never reads pickles).")
    try:
        with zipfile.ZipFile(path) as z:
            if sum(i.file_size for i in z.infolist()) > _MAX_BYTES:
                raise ModelFileError(f"{path!r} claims more than 4 GiB of content; refusing to read it.")
            bad = z.testzip()
            if bad is not None:
                raise ModelFileError(f"{path!r} is corrupted (checksum error in {bad}); re-save the model.")
            names = set(z.namelist())
            if "metadata.json" not in names:
                raise ModelFileError(f"{path!r} is a zip file but not a minilstm model (no metadata.json).")
            try:
                meta = json.loads(z.read("metadata.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ModelFileError(f"{path!r}: metadata.json is not valid JSON ({e}).") from None
            if not isinstance(meta, dict) or meta.get("magic") != MAGIC:
                raise ModelFileError(f"{path!r} is not a minilstm model file (wrong or missing magic).")
            version = meta.get("format_version")
            if not isinstance(version, int) or version < 1:
                raise ModelFileError(f"{path!r}: invalid format_version {version!r}.")
            if version > FORMAT_VERSION:
                raise ModelFileError(f"{path!r} was written by a newer minilstm (file format {version}, this "
                                     f"version reads up to {FORMAT_VERSION}, library {meta.get('library_version')}); "
                                     "upgrade minilstm to load it.")
            arrays = {}
            for n in names:
                if n.startswith("arrays/") and n.endswith(".npy"):
                    try:
                        arrays[n[7:-4]] = np.load(io.BytesIO(z.read(n)), allow_pickle=False)
                    except ValueError as e:
                        raise ModelFileError(f"{path!r}: array {n} is unreadable or holds objects ({e}).") from None
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{path!r} is corrupted or truncated ({e}); re-save the model.") from None
    except (OSError, EOFError) as e:
        raise ModelFileError(f"{path!r} could not be read ({e}); it may be truncated.") from None
    return meta, arrays
