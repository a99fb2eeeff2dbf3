"""The model file: one zip holding ``metadata.json`` and ``arrays/<name>.npy``. No pickle anywhere.

Saving (``write_model_file``):

- only a regular file (or a new name) is written; a folder, device, FIFO or socket at the path
  is refused, and so is an existing read-only file (its owner protected it);
- a symbolic link is followed: its target is replaced, atomically, and the link stays a link;
- the archive is written to a temporary file in the target's folder, flushed to disk, given
  the old file's permission bits (a new file gets the usual ``0o666 & ~umask``), then moved
  over the target with ``os.replace``; on any failure the temporary file is removed and the
  old file is untouched (being a new file, it also leaves any other hard link to the old one
  with the old content; where allowed, the old file's owner and group are kept);
- every operating-system error becomes a ``ModelFileError`` naming the path and the fix.

Loading (``read_model_file``, then ``file_checks.check_metadata`` / ``check_weights``) never executes code
and checks everything before using it: only a regular file is opened; member names, sizes,
compression and the total size are checked; ``metadata.json`` is size- and depth-limited and
duplicate keys are refused; every ``.npy`` header is parsed first (float32/float64 only, never
objects, the declared shape must match the member's byte count exactly) and values must be
finite; then every metadata field is checked against the others and against the arrays, so that
a file that loads is a model that predicts and evaluates.
"""
import errno
import functools
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile

import numpy as np

from ..errors import InputTypeError, ModelFileError

MAGIC = "minilstm-model"
FORMAT_VERSION = 1
_MAX_BYTES = 4 << 30          # refuse archives that hold (or claim) more than 4 GiB uncompressed
_MAX_META_BYTES = 64 << 20    # metadata.json
_MAX_MEMBERS = 100_000
_MAX_JSON_DEPTH = 32
_MAX_NDIM = 8
_MAX_RATIO = 1100             # deflate cannot compress better than about 1032:1
_ARRAY_NAME = re.compile(r"^arrays/([A-Za-z0-9_.\-]{1,200})\.npy$")


# ---- paths and operating-system errors --------------------------------------------------------------
def _path(path, action):
    """str, bytes or os.PathLike -> str; anything else is an InputTypeError."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise InputTypeError(f"{action} needs a file path (str or pathlib.Path), got {type(path).__name__}.")
    p = os.fspath(path)
    p = os.fsdecode(p) if isinstance(p, bytes) else p
    if not p or "\x00" in p:
        raise ModelFileError(f"{action}: {p!r} is not a usable file path; give a file name such as 'model.minilstm'.")
    return p


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


_FIXES = {
    errno.EACCES: "permission denied: choose a folder you can write to, or change its permissions",
    errno.EPERM: "operation not permitted: choose another path, or change the permissions",
    errno.EROFS: "the file system is read-only: save somewhere writable",
    errno.ENOSPC: "the disk is full: free some space or save elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or save elsewhere",
    errno.ENOENT: "a folder in the path does not exist: create it first",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.ENAMETOOLONG: "the file name is too long: use a shorter one",
    errno.ELOOP: "the path is a loop of symbolic links: fix or remove the link",
    errno.EISDIR: "the path is a folder: give a file name inside it",
    errno.EIO: "an input/output error occurred (failing disk or network share): try another location",
    errno.EXDEV: "the temporary file and the target are on different file systems",
}


def _os_error(e, path, action):
    """An OSError -> a ModelFileError naming the path, the reason and the fix."""
    fix = _FIXES.get(e.errno, "check the path and the disk")
    where = f" ({e.filename})" if getattr(e, "filename", None) and os.fsdecode(e.filename) != path else ""
    return ModelFileError(f"cannot {action} {path!r}{where}: {e.strerror or e}; {fix}.")


def _umask():
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- writing ------------------------------------------------------------------------------------------
def _plain(o):
    """JSON fallback for NumPy scalars and arrays (never objects)."""
    if isinstance(o, (np.generic, np.ndarray)) and o.dtype.kind in "biuf":
        return o.tolist()
    raise TypeError(f"cannot store a {type(o).__name__} in a model file's metadata")


def save_target(path):
    """The file a save to ``path`` replaces, and its ``os.stat`` (None for a new file); refuses what must not be
    replaced: folders, devices, FIFOs, sockets, read-only files. A symbolic link resolves to its target."""
    p = _path(path, "save")
    if p.endswith(("/", os.sep)) or os.path.basename(p) in ("", ".", ".."):
        if os.path.isdir(p):
            raise ModelFileError(f"cannot save to {p!r}: it is a folder; give a file name inside it.")
        raise ModelFileError(f"cannot save to {p!r}: give a file name, such as 'model.minilstm'.")
    try:
        st = os.stat(p)                                   # follows symbolic links
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _os_error(e, p, "save to") from None
    target = os.path.realpath(p) if os.path.islink(p) else p
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        via = f" (the symbolic link points to {target!r})" if target != p else ""
        fix = "give a file name inside it" if kind == "a folder" else "save to a regular file name instead"
        raise ModelFileError(f"cannot save to {p!r}{via}: it is {kind}, not a regular file; minilstm only replaces "
                             f"regular files; {fix}.")
    if st is not None and (not st.st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise ModelFileError(f"cannot save to {p!r}: the existing file is read-only (mode "
                             f"{oct(stat.S_IMODE(st.st_mode))}), so it is left alone; make it writable (chmod u+w) or "
                             "save under another name.")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot save to {p!r}: folder {folder!r} does not exist. Create it first "
                             "(os.makedirs(folder, exist_ok=True)).")
    return target, st


def write_model_file(path, meta, arrays):
    """Atomically write ``meta`` (JSON-serialisable dict) and ``arrays`` (name -> np.ndarray) to ``path``."""
    p = _path(path, "save")
    target, st = save_target(p)
    folder = os.path.dirname(os.path.abspath(target))
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    meta = {"magic": MAGIC, "format_version": FORMAT_VERSION, **meta}
    try:
        text = json.dumps(meta, indent=1, allow_nan=True, default=_plain)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"cannot save to {p!r}: the model's metadata holds a value a model file cannot store "
                             f"({e}); column and target names must be strings or numbers.") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target)[:40] + ".", suffix=".tmp")
    except OSError as e:
        raise _os_error(e, p, f"create a temporary file in folder {folder!r} to save") from None
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("metadata.json", text)
                for name, a in arrays.items():
                    buf = io.BytesIO()
                    np.save(buf, np.asarray(a), allow_pickle=False)
                    z.writestr(f"arrays/{name}.npy", buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if st is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)       # keep the owner where allowed (as root)
            except OSError:
                pass
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _os_error(e, p, "save to") from e
        raise
    _fsync_folder(folder)


# ---- reading ------------------------------------------------------------------------------------------
def _json_depth(raw):
    """Deepest nesting of [ and { in JSON bytes (strings ignored), without recursion."""
    stripped = re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*"', b'""', raw)
    b = np.frombuffer(stripped, dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int64) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if step.size else 0


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"duplicate keys {dup}")
    return dict(pairs)


def _read_meta(z, path):
    raw = z.read("metadata.json")
    depth = _json_depth(raw)
    if depth > _MAX_JSON_DEPTH:
        raise ModelFileError(f"{path!r}: metadata.json is nested {depth} levels deep (at most {_MAX_JSON_DEPTH}); "
                             "the file is edited or foreign.")
    try:
        meta = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelFileError(f"{path!r}: metadata.json is not valid JSON ({e}); the file is corrupted or foreign."
                             ) from None
    if not isinstance(meta, dict) or meta.get("magic") != MAGIC:
        raise ModelFileError(f"{path!r} is not a minilstm model file (wrong or missing magic).")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path!r}: invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path!r} was written by a newer minilstm (file format {version}, this "
                             f"version reads up to {FORMAT_VERSION}, library {meta.get('library_version')!r}); "
                             "upgrade minilstm to load it.")
    return meta


def _read_npy(z, info, path):
    """One .npy member -> a native-endian float array; the header is checked before any data are read."""
    name = info.filename
    with z.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10_000)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10_000)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, TypeError, SyntaxError, OverflowError) as e:
            raise ModelFileError(f"{path!r}: array {name} has an unreadable header or holds objects ({e}); "
                                 "the file is corrupted, edited or foreign.") from None
        if dtype.kind != "f" or dtype.itemsize not in (4, 8) or dtype.fields is not None or dtype.shape != ():
            raise ModelFileError(f"{path!r}: array {name} has dtype {dtype} (objects or a non-float type); model "
                                 "files hold only float32/float64 arrays. The file is edited or foreign.")
        if not isinstance(shape, tuple) or len(shape) > _MAX_NDIM or \
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ModelFileError(f"{path!r}: array {name} declares an invalid shape {shape!r}.")
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - f.tell()
        if nbytes != held:
            raise ModelFileError(f"{path!r}: array {name} declares shape {shape} ({nbytes} bytes of {dtype}) but "
                                 f"holds {held} bytes; the file is truncated, edited or foreign.")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):
            raise ModelFileError(f"{path!r}: array {name} is truncated or too long.")
    a = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    a = np.ascontiguousarray(a.astype(dtype.newbyteorder("="), copy=True))
    if not np.isfinite(a).all():
        raise ModelFileError(f"{path!r}: array {name} holds NaN or Inf; a saved model's weights are finite. The "
                             "file is corrupted or edited.")
    return a


def _check_members(z, path):
    infos = z.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise ModelFileError(f"{path!r} holds {len(infos)} members; a model file holds far fewer.")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ModelFileError(f"{path!r} holds duplicate members; the file is edited or foreign.")
    if "metadata.json" not in names:
        raise ModelFileError(f"{path!r} is a zip file but not a minilstm model (no metadata.json).")
    total = 0
    for i in infos:
        if i.filename != "metadata.json" and not _ARRAY_NAME.match(i.filename):
            raise ModelFileError(f"{path!r} holds an unexpected member {i.filename!r}; a model file holds only "
                                 "metadata.json and arrays/<name>.npy.")
        if i.flag_bits & 0x1:
            raise ModelFileError(f"{path!r}: member {i.filename} is encrypted; model files are never encrypted.")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{path!r}: member {i.filename} uses an unsupported compression ({i.compress_type});"
                                 " re-save the model with minilstm.")
        if i.file_size > i.compress_size * _MAX_RATIO + 1024:
            raise ModelFileError(f"{path!r}: member {i.filename} claims {i.file_size} bytes from {i.compress_size} "
                                 "compressed bytes, more than compression allows; the file is crafted or corrupted.")
        if i.filename == "metadata.json" and i.file_size > _MAX_META_BYTES:
            raise ModelFileError(f"{path!r}: metadata.json claims {i.file_size} bytes (at most {_MAX_META_BYTES}).")
        total += i.file_size
    if total > _MAX_BYTES:
        raise ModelFileError(f"{path!r} claims {total} bytes of content (more than 4 GiB); refusing to read it.")
    return infos


def read_model_file(path):
    """Return (meta, arrays) from a model file, or raise ``ModelFileError`` saying what is wrong."""
    p = _path(path, "load")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ModelFileError(f"no model file at {p!r}: check the path (save one with model.save(path)).") from None
    except OSError as e:
        raise _os_error(e, p, "read") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{p!r} is {_kind(st.st_mode)}, not a minilstm model file; give the path of a file "
                             "written by model.save(path).")
    if st.st_size > _MAX_BYTES:
        raise ModelFileError(f"{p!r} is {st.st_size} bytes, more than a model file may be (4 GiB).")
    try:
        f = open(p, "rb")
    except OSError as e:
        raise _os_error(e, p, "read") from None
    with f:
        try:
            if not zipfile.is_zipfile(f):
                raise ModelFileError(f"{p!r} is not a minilstm model file (not a zip archive): it may be truncated, "
                                     "corrupted, or another format (minilstm never reads pickles).")
            with zipfile.ZipFile(f) as z:
                infos = _check_members(z, p)
                meta = _read_meta(z, p)
                arrays = {}
                for i in infos:
                    m = _ARRAY_NAME.match(i.filename)
                    if m:
                        arrays[m.group(1)] = _read_npy(z, i, p)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            raise ModelFileError(f"{p!r} is corrupted or truncated ({e}); re-save the model.") from None
        except OSError as e:
            raise ModelFileError(f"{p!r} could not be read ({e}); it may be truncated or the disk failing.") from None
        except Exception as e:  # zlib.error, EOFError, struct.error... from a damaged archive
            raise ModelFileError(f"{p!r} is corrupted ({type(e).__name__}: {e}); re-save the model.") from None
    return meta, arrays


# ---- LSTMModel.load as a class or an instance method -----------------------------------------------
class class_or_instance_method:
    """``Cls.method(...)`` calls the function on a new ``Cls()``; ``obj.method(...)`` on ``obj``.

    Used for ``LSTMModel.load``: ``LSTMModel.load(path)`` and ``LSTMModel().load(path)`` both return the
    loaded model.
    """

    def __init__(self, func):
        self.func = func
        functools.update_wrapper(self, func)

    def __get__(self, obj, cls=None):
        func = self.func

        @functools.wraps(func)
        def bound(*args, **kwargs):
            return func(cls() if obj is None else obj, *args, **kwargs)
        return bound


# ---- pickle: the model file's bytes, nothing else -------------------------------------------------------
def file_bytes(save):
    """The bytes of the model file that ``save(path)`` writes: what a pickle of a fitted ``LSTMModel`` or
    ``LSTMEnsemble`` carries (the same validated zip, never the objects themselves)."""
    with tempfile.TemporaryDirectory(prefix="minilstm-pickle-") as d:
        path = os.path.join(d, "model.minilstm")
        save(path)
        with open(path, "rb") as f:
            return f.read()


def from_file_bytes(load, data, what):
    """``load(path)`` on a temporary file holding ``data`` (a pickle's model-file bytes): the same checks as
    loading the file; errors name ``what`` (e.g. 'a pickled LSTMModel') instead of the temporary path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ModelFileError(f"{what} carries {type(data).__name__}, not the bytes of a model file; the pickle was "
                             "not written by minilstm.")
    if len(data) > _MAX_BYTES:
        raise ModelFileError(f"{what} carries {len(data)} bytes, more than a model file may be (4 GiB).")
    with tempfile.TemporaryDirectory(prefix="minilstm-pickle-") as d:
        path = os.path.join(d, "model.minilstm")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return load(path)
        except ModelFileError as e:
            raise ModelFileError(str(e).replace(repr(path), what).replace(path, what)) from None


def config_text(settings):
    """An unfitted model's settings (a dict of plain values) -> JSON text, what its pickle carries."""
    try:
        return json.dumps(settings, allow_nan=True, default=_plain)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"cannot pickle the model: its config holds a value a model file cannot store ({e}).") \
            from None


def config_from_text(text, what):
    """JSON text from ``config_text`` -> dict (checked by the caller's constructor)."""
    if not isinstance(text, str) or len(text) > _MAX_META_BYTES or \
            _json_depth(text.encode("utf-8", "replace")) > _MAX_JSON_DEPTH:
        raise ModelFileError(f"{what} does not carry a model's settings as JSON text; the pickle was not written by "
                             "minilstm.")
    try:
        settings = json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as e:
        raise ModelFileError(f"{what}: its settings are not valid JSON ({e}).") from None
    if not isinstance(settings, dict):
        raise ModelFileError(f"{what}: its settings must be a JSON object, got {type(settings).__name__}.")
    return settings
