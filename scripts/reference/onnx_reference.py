#!/usr/bin/env python3
"""Reference outputs of the ONNX models C (paraphrase-MiniLM-L3) and E
(magika) from onnxruntime, written to trace-vm/tests/fixtures/onnx_*.json.

Run from the repository root with onnxruntime and numpy installed (e.g. in a
temporary venv: python3 -m venv /tmp/ort && /tmp/ort/bin/pip install
onnxruntime numpy). The inputs are the same ones trace-vm/tests/onnx_models.rs
builds, so the test compares the VM with an independent runtime.
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(os.environ.get("REFUTE_HOME", os.path.join(ROOT, ".refute")), "models")
FIXTURES = os.path.join(ROOT, "trace-vm", "tests", "fixtures")


def magika_input(data: bytes) -> list:
    half, pad = 1024, 256
    trimmed = data.strip(b" \t\n\r\x0b\x0c")
    beg = list(trimmed[:half]) + [pad] * max(0, half - len(trimmed[:half]))
    tail = list(trimmed[-half:]) if trimmed else []
    end = [pad] * (half - len(tail)) + tail
    return beg + end


def versions() -> dict:
    return {"onnxruntime": ort.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}


def magika() -> dict:
    sess = ort.InferenceSession(os.path.join(MODELS, "magika", "model.onnx"), providers=["CPUExecutionProvider"])
    cases = []
    for rel in ["trace-vm/tests/onnx_models.rs", "scripts/reference/common.py"]:
        with open(os.path.join(ROOT, rel), "rb") as f:
            x = np.array([magika_input(f.read())], dtype=np.int32)
        (probs,) = sess.run(None, {"bytes": x})
        cases.append({"file": rel, "input": x[0].tolist(), "probs": [float(v) for v in probs[0]]})
    return {"model": "magika", "versions": versions(), "cases": cases}


def minilm() -> dict:
    sess = ort.InferenceSession(
        os.path.join(MODELS, "paraphrase-minilm-l3", "model.onnx"), providers=["CPUExecutionProvider"]
    )
    ids = np.array([[101, 7592, 2088, 102, 0, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1, 0, 0]], dtype=np.int64)
    names = [o.name for o in sess.get_outputs()]
    outs = dict(zip(names, sess.run(None, {"input_ids": ids, "attention_mask": mask})))
    return {
        "model": "paraphrase-minilm-l3",
        "versions": versions(),
        "input_ids": ids[0].tolist(),
        "attention_mask": mask[0].tolist(),
        "pooled": [float(v) for v in outs["461"][0]],
    }


def main() -> None:
    for name, fn in [("onnx_magika.json", magika), ("onnx_minilm_l3.json", minilm)]:
        with open(os.path.join(FIXTURES, name), "w") as f:
            json.dump(fn(), f, indent=1)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
