"""Shared helpers of the fixture scripts: provenance and compact JSON output."""

import hashlib
import json
import sys
from importlib import metadata


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def provenance(target, model_file, packages):
    return {
        "command": f"scripts/reference/make-fixtures {target}",
        "packages": {p: metadata.version(p) for p in packages},
        "model_sha256": sha256(model_file),
        "python": sys.version.split()[0],
    }


def write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")
