import json
import zipfile

import numpy as np
import pytest


def rewrite_metadata(src, change, dst=None):
    """Rewrite a saved model file's metadata.json through change(meta), into dst (default: src itself): how the
    tests make a tampered file, or one written before a key existed. Returns the file written."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(files["metadata.json"])
    change(meta)
    files["metadata.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(dst or src, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return dst or src


def rel_norm(a, b):
    """||a - b|| / ||b|| (norm-wise relative difference)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (nb if nb > 0 else 1.0))


def random_params(rng, D, H, scale=0.5, dtype=np.float64):
    """One layer's params with nonzero biases."""
    return {"W_x": (rng.standard_normal((D, 4 * H)) * scale).astype(dtype),
            "W_h": (rng.standard_normal((H, 4 * H)) * scale).astype(dtype),
            "b": (rng.standard_normal(4 * H) * scale).astype(dtype)}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
