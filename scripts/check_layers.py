#!/usr/bin/env python3
"""Fails when an #include climbs a layer of src/ (docs/ARCHITECTURE.md has the picture).

A file may include its own folder and any folder of a lower layer, never one of its own layer
or above. Run by ctest (LayerCheck); `python3 scripts/check_layers.py [SRC]` prints each breach.
"""
import pathlib
import re
import sys

# Lower number = lower layer. `dist` is beside common for the torch layers; eval (metrics and
# pictures) sits below predict because the ridge picks its alpha by eval's PCC.
LAYERS = {
    "common": 0,
    "dist": 1, "config": 1,
    "io": 2,
    "data": 3, "eval": 3,
    "encoders": 4, "model": 4,
    "train": 5,
    "predict": 6, "synth": 6,
    "pipeline": 7,
    "cli": 8,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def breaches(src: pathlib.Path):
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cpp") or not path.is_file():
            continue
        folder = path.relative_to(src).parts[0]
        if folder not in LAYERS:
            yield f"{path}: folder '{folder}' has no layer in scripts/check_layers.py"
            continue
        for target in INCLUDE.findall(path.read_text(errors="replace")):
            if target == folder or target not in LAYERS:
                continue
            if LAYERS[target] >= LAYERS[folder]:
                yield (f"{path}: includes {target}/ (layer {LAYERS[target]}) from {folder}/ "
                       f"(layer {LAYERS[folder]}): lower layers never include higher or sibling ones")


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "src")
    found = list(breaches(src))
    for line in found:
        print(line)
    print(f"layer check: {len(found)} climbing include(s) under {src}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
