#!/usr/bin/env python3
"""Builds the libFuzzer seed folders at build time: <out>/<target>/.

Every target gets the hand-written seeds committed under tests/fuzz/seeds/<target>/. Where the
real data (../shared/data, read-only) is present, each target also gets small excerpts of the real
files (first rows, first columns): small seeds keep libFuzzer's input length limit and its
executions per second reasonable. Nothing is written outside <out>; the data is only read.
The HDF5 targets' seeds (h5ad, 10x_h5) are written afterwards by hdf5_seeds.cpp.

  make_seeds.py --committed tests/fuzz/seeds --repo . --data ../shared/data --out build/seeds
"""
import argparse
import gzip
import os
import shutil
import struct
import sys

MAX_ROWS = 8     # data rows kept from a table
MAX_FIELDS = 24  # fields kept from each row of a wide table (counts: genes)


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw


def excerpt(raw, rows=MAX_ROWS, fields=None, sep=b"\t"):
    """The header and the first `rows` rows, each cut to `fields` fields."""
    lines = raw.split(b"\n")[: rows + 1]
    if fields:
        lines = [sep.join(l.split(sep)[:fields]) for l in lines]
    return b"\n".join(lines) + b"\n"


def npy_strings_excerpt(raw, n):
    """The first n strings of a 1-D fixed-width string .npy (version 1), header rewritten."""
    if raw[:6] != b"\x93NUMPY" or raw[6] != 1:
        return None
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10 : 10 + hlen].decode("latin-1")
    descr = header.split("'descr':")[1].split("'")[1]
    width = int(descr[2:]) * (4 if descr[1] == "U" else 1)
    body = raw[10 + hlen : 10 + hlen + n * width]
    return npy(descr, "(%d,)" % (len(body) // width), body)


def npy(descr, shape, body, fortran=False):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape)
    pad = (64 - (10 + len(d) + 1) % 64) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin-1") + body


def toml_as_json(text):
    """A TOML run config as JSON (None without tomllib, Python < 3.11)."""
    try:
        import json
        import tomllib
        return json.dumps(tomllib.loads(text.decode("utf-8")), indent=1).encode("utf-8")
    except Exception:
        return None


def data_seeds(data, repo):
    """{target: {name: bytes}} from the real files that exist."""
    seeds = {}

    def add(target, name, content):
        if content:
            seeds.setdefault(target, {})["real-" + name] = content

    def each(folder, suffixes):
        folder = os.path.join(data, folder)
        if not data or not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(suffixes))

    # Counts tables: her2st (gzip) and STUtility's mouse olfactory bulb (plain).
    counts = each("her2st/data/ST-cnts", (".tsv.gz",))[:3]
    counts += [p for p in each("stutility_mob/inst/extdata/counts", (".tsv",))
               if os.path.basename(p).startswith("MOB")][:2]
    for p in counts:
        name = os.path.basename(p).replace(".gz", "")
        text = excerpt(read_text(p), fields=MAX_FIELDS)
        add("counts_tsv", name, text)
        add("counts_tsv_gz", name + ".plain", b"\x00" + text)
        gz = gzip.compress(text, compresslevel=6, mtime=0)
        add("counts_tsv_gz", name + ".gz", b"\x01" + gz)
        add("counts_tsv_gz", name + ".gz-cut", b"\x01" + gz[: len(gz) // 2])

    # Spot tables and label tables (the legacy readers share the header logic).
    tables = each("her2st/data/ST-spotfiles", (".tsv",))[:3]
    tables += each("stutility_mob/inst/extdata/counts", ("alignment_table_MOB1.tsv",))
    labels = each("her2st/data/ST-pat/lbl", (".tsv",))[:1]
    labels += each("her2st/res/ST-cluster/lbl", (".tsv.gz",))[:1]
    for p in tables + labels:
        text = excerpt(read_text(p))
        name = os.path.basename(p).replace(".gz", "")
        add("spot_table", name, text)
        if p in tables:
            add("spot_list", name, text)

    # Visium tissue positions: v1 (no header) as shipped, and the v2 layout with a header.
    for p in each("visium_seurat_fixture/spatial", ("tissue_positions_list.csv",)):
        v1 = excerpt(read_text(p), rows=MAX_ROWS - 1)
        v2 = b"barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n" + v1
        rows = [l.split(b",") for l in v1.splitlines() if l.count(b",") >= 5]
        csv = b"id,pixel_x,pixel_y\n" + b"".join(
            r[0] + b"," + r[5] + b"," + r[4] + b"\n" for r in rows)
        for target in ("tissue_positions", "spot_list"):
            add(target, "tissue_positions_list.csv", v1)
            add(target, "tissue_positions.csv", v2)
        add("spot_list", "query_spots.csv", csv)

    # Gene panels (.npy): the real <U9 panel cut to a few genes, as is and as |S bytes.
    for p in each("her2st/genes", (".npy",)):
        raw = read_text(p)
        small = npy_strings_excerpt(raw, 12)
        add("npy", os.path.basename(p), small)
        if small is not None:
            # The same genes as |S9 (ASCII symbols), and a 2-D <f4 cache of 3 x 4 values.
            hlen = struct.unpack("<H", small[8:10])[0]
            body = small[10 + hlen :]
            names = [body[i : i + 36].decode("utf-32-le").rstrip("\0") for i in range(0, len(body), 36)]
            sbody = b"".join(n.encode("ascii", "replace").ljust(9, b"\0")[:9] for n in names)
            add("npy", "genes-S9.npy", npy("|S9", "(%d,)" % len(names), sbody))
    if "npy" in seeds:
        add("npy", "features-3x4.npy",
            npy("<f4", "(3, 4)", struct.pack("<12f", *[i * 0.5 - 1 for i in range(12)])))

    # Manifests ([[section]] tables) and run configs (the rest), the repository's own (configs/,
    # always there); each run config also as the JSON a model stores (model.json).
    cfg = os.path.join(repo, "configs")
    if os.path.isdir(cfg):
        for f in sorted(os.listdir(cfg)):
            if f.endswith(".toml"):
                text = open(os.path.join(cfg, f), "rb").read()
                if b"[[section]]" in text:
                    add("manifest", f, text)
                else:
                    add("run_config", f, text)
                    as_json = toml_as_json(text)
                    add("run_config", f.replace(".toml", ".json"), as_json)

    # JSON: Space Ranger's scale factors give the side-car parser real-world JSON.
    for p in each("visium_seurat_fixture/spatial", (".json",)):
        add("torchscript_sidecar", os.path.basename(p), read_text(p))
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--committed", required=True, help="tests/fuzz/seeds")
    ap.add_argument("--repo", required=True, help="the repository root (configs/)")
    ap.add_argument("--data", default="", help="../shared/data; absent: committed seeds only")
    ap.add_argument("--out", required=True)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()

    have_data = bool(a.data) and os.path.isdir(a.data)
    try:
        from_data = data_seeds(a.data if have_data else "", a.repo)
    except Exception as e:  # an unexpected data layout must not break the build
        print("make_seeds: cannot excerpt %s (%s); committed seeds only" % (a.data, e), file=sys.stderr)
        from_data = {}
    for t in a.targets:
        out = os.path.join(a.out, t)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        committed = os.path.join(a.committed, t)
        if os.path.isdir(committed):
            for f in sorted(os.listdir(committed)):
                shutil.copyfile(os.path.join(committed, f), os.path.join(out, f))
        for name, content in from_data.get(t, {}).items():
            with open(os.path.join(out, name), "wb") as f:
                f.write(content)
        n = len(os.listdir(out))
        src = "committed + real files" if from_data.get(t) else "committed only"
        print("make_seeds: %-20s %2d seeds (%s)" % (t, n, src))
    return 0


if __name__ == "__main__":
    sys.exit(main())
