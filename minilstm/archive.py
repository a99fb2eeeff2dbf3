"""A layer's pickle: one in-memory zip of ``metadata.json`` and ``arrays/<name>.npy``, as the model file.

``to_bytes(meta, arrays)``: meta a dict of plain values (JSON), arrays a dict of name -> float array.
``from_bytes(data, what)`` -> (meta, arrays), or ``ModelFileError`` naming ``what``. Reading never executes
code: only those members, stored uncompressed (a member's size is what the archive holds), JSON without
duplicate keys, ``.npy`` read with ``allow_pickle=False`` (float32/float64, finite). The caller checks that
the metadata and the arrays' shapes describe the object it builds (``minilstm.nn``'s layers).
"""
import io
import json
import re
import zipfile

import numpy as np

from .errors import ModelFileError

MAGIC = "minilstm-layer"
FORMAT_VERSION = 1
_MAX_BYTES = 16 << 30          # the largest layer ``validate.check_layer_size`` allows
_ARRAY_NAME = re.compile(r"^arrays/([A-Za-z0-9_.\-]{1,200})\.npy$")


def to_bytes(meta, arrays):
    """meta (JSON-serialisable dict), arrays (name -> host float array) -> the zip's bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"magic": MAGIC, "format_version": FORMAT_VERSION, **meta}))
        for name, a in arrays.items():
            member = io.BytesIO()
            np.save(member, np.ascontiguousarray(a), allow_pickle=False)
            z.writestr(f"arrays/{name}.npy", member.getvalue())
    return buf.getvalue()


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return dict(pairs)


def from_bytes(data, what):
    """The bytes of ``to_bytes`` -> (meta, arrays), every member checked; ``ModelFileError`` otherwise."""
    def bad(msg):
        return ModelFileError(f"{what}: {msg}; the pickle is corrupted or was not written by minilstm.")

    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > _MAX_BYTES:
        raise bad(f"it carries {type(data).__name__} instead of the bytes of a layer archive")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if "metadata.json" not in names or len(set(names)) != len(names):
                raise bad("no metadata.json, or duplicate members")
            for i in infos:
                if i.filename != "metadata.json" and not _ARRAY_NAME.match(i.filename):
                    raise bad(f"unexpected member {i.filename[:80]!r}")
                if i.compress_type != zipfile.ZIP_STORED or i.file_size != i.compress_size or i.flag_bits & 0x1:
                    raise bad(f"member {i.filename[:80]!r} is compressed or encrypted")
            meta = json.loads(z.read("metadata.json").decode("utf-8"), object_pairs_hook=_no_duplicates)
            if not isinstance(meta, dict) or meta.get("magic") != MAGIC or meta.get("format_version") != FORMAT_VERSION:
                raise bad("wrong magic or format version")
            arrays = {}
            for i in infos:
                m = _ARRAY_NAME.match(i.filename)
                if m:
                    a = np.load(io.BytesIO(z.read(i)), allow_pickle=False)
                    if a.dtype not in (np.float32, np.float64) or a.ndim > 8 or not np.isfinite(a).all():
                        raise bad(f"array {m.group(1)} is not a finite float32/float64 array")
                    arrays[m.group(1)] = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False))
    except ModelFileError:
        raise
    except Exception as e:          # noqa: BLE001 -- zipfile, zlib and .npy errors of a damaged archive
        raise bad(f"{type(e).__name__}: {e}") from None
    return meta, arrays

