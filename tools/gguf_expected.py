#!/usr/bin/env python3
"""Expected GGUF header facts from the reference reader (Python `gguf` package, llama.cpp's
gguf-py), for chord-gguf's tests to compare against.

    pip install gguf numpy
    python3 tools/gguf_expected.py OUT_DIR FILE.gguf [FILE.gguf ...]

Writes OUT_DIR/<file stem>.json per file: version, counts, alignment, absolute data offset, the
metadata keys with their value types, and per tensor: name, ggml type id and name, shape (ggml
order, innermost first), absolute offset of its bytes in the file, byte size, element count.
"""
import json
import os
import sys

import gguf


def main() -> None:
    out_dir, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    for path in files:
        r = gguf.GGUFReader(path)
        fields = {}
        version = None
        for name, f in r.fields.items():
            if name.startswith("GGUF."):
                if name == "GGUF.version":
                    version = int(f.parts[f.data[0]][0])
                continue
            types = [t.name for t in f.types]
            fields[name] = types
        tensors = []
        for t in r.tensors:
            tensors.append({
                "name": t.name,
                "type_id": int(t.tensor_type),
                "type": t.tensor_type.name,
                "shape": [int(d) for d in t.shape],
                "offset": int(t.data_offset),
                "bytes": int(t.n_bytes),
                "elements": int(t.n_elements),
            })
        doc = {
            "source": os.path.basename(path),
            "file_size": os.path.getsize(path),
            "gguf_version": version,
            "alignment": int(r.alignment),
            "data_offset": int(r.data_offset),
            "kv_count": len(fields),
            "tensor_count": len(tensors),
            "metadata_types": fields,
            "tensors": tensors,
        }
        stem = os.path.basename(path)
        stem = stem[: -len(".gguf")] if stem.endswith(".gguf") else stem
        with open(os.path.join(out_dir, stem + ".json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{path}: {len(tensors)} tensors, {len(fields)} keys", file=sys.stderr)


if __name__ == "__main__":
    main()
