#!/usr/bin/env python3
"""Convert torchvision ImageNet weights into a file hiscmcl's built-in trunks load by name.

Usage:  python3 convert_torchvision.py ARCH OUT_FILE [--weights DEFAULT|IMAGENET1K_V1|path.pth]
        ARCH: resnet18 | resnet50 | densenet121

Needs torch + torchvision where you run it (not on the machine that runs hiscmcl). Writes a
torch.save zip archive holding a plain dict {name: tensor} of every parameter and buffer of the
trunk: torchvision's own state_dict keys minus the classifier (fc.* / classifier.*), which
LibTorch's torch::pickle_load reads. DenseNet's legacy checkpoint keys ("norm.1" instead of
"norm1") are renamed as torchvision itself does.
"""
import argparse
import re
import sys

CLASSIFIER_PREFIX = {"resnet18": "fc.", "resnet50": "fc.", "densenet121": "classifier."}


def trunk_state_dict(arch, state_dict):
    """torchvision state_dict -> plain dict of the trunk's tensors (classifier dropped)."""
    if arch not in CLASSIFIER_PREFIX:
        raise SystemExit(f"unknown arch '{arch}' (valid: {', '.join(CLASSIFIER_PREFIX)})")
    legacy = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for key, value in state_dict.items():
        m = legacy.match(key)
        if m:
            key = m.group(1) + m.group(2)
        if key.startswith(CLASSIFIER_PREFIX[arch]):
            continue
        # A plain dict of contiguous tensors: LibTorch's unpickler drops OrderedDicts.
        out[key] = value.detach().clone().contiguous()
    return out


def save_for_hiscmcl(tensors, path):
    import torch
    torch.save(dict(tensors), path, _use_new_zipfile_serialization=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", choices=sorted(CLASSIFIER_PREFIX))
    ap.add_argument("out")
    ap.add_argument("--weights", default="DEFAULT",
                    help="torchvision weights enum name, or a local .pth state_dict (default: DEFAULT)")
    args = ap.parse_args(argv)

    import torch
    import torchvision

    if args.weights.endswith((".pth", ".pt")):
        model = getattr(torchvision.models, args.arch)(weights=None)
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    else:
        model = getattr(torchvision.models, args.arch)(weights=args.weights)
    tensors = trunk_state_dict(args.arch, model.state_dict())
    save_for_hiscmcl(tensors, args.out)
    print(f"wrote {len(tensors)} tensors for {args.arch} to {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
