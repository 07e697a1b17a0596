#!/usr/bin/env python3
"""Prints the tables of scripts/method_table.sh from one or more of its results.jsonl files (rows of
model, method, bits, group, quantize JSON, eval JSON, trainable_params), one table per model: mean NLL,
quantize seconds and the trainable share of the linear weights per method and setting.
Usage: method_table.py RESULTS.jsonl [MORE.jsonl ...]"""
import json
import os
import struct
import sys

rows = [json.loads(l) for path in sys.argv[1:] for l in open(path) if l.strip()]


def weights(name):
    """The model's linear weights from its llama2.c header (dim, hidden, layers, heads, kv heads)."""
    path = {"stories260K": "stories260K/stories260K.bin", "gutenberg4M": "gutenberg4M/gutenberg4M.bin"}[name]
    data = os.environ.get("VQR_DATA_DIR", "../shared/data")
    with open(f"{data}/models/{path}", "rb") as f:
        dim, hidden, layers, heads, kv, _vocab, _seq = struct.unpack("7i", f.read(28))
    hs = dim // heads
    return layers * (2 * dim * dim + 2 * dim * kv * hs + 3 * dim * hidden)


for model in dict.fromkeys(r["model"] for r in rows):
    sub = [r for r in rows if r["model"] == model]
    fp = [r for r in sub if r["method"] == "fp32"][0]["eval"]["mean_nll"]  # the same in every file
    cols = sorted({(r["bits"], r["group"]) for r in sub if r["method"] != "fp32"},
                  key=lambda c: (-c[0], c[1] != -1, c[1]))
    table = {}
    for r in sub:
        if r["method"] != "fp32":
            table.setdefault(r["method"], {})[(r["bits"], r["group"])] = r
    total = weights(model)
    print(f"{model}: mean NLL (fp32 {fp:.4f}); quantize seconds; trainable share of the linear weights")
    print("%-22s" % "method" + "".join("%28s" % ("W%d %s" % (b, "per-channel" if g < 0 else "g%d" % g)) for b, g in cols))
    for m, cells in table.items():
        line = "%-22s" % m
        for c in cols:
            r = cells.get(c)
            line += "%28s" % ("%.4f (%.0f s, %.1f%%)" % (r["eval"]["mean_nll"], r["quantize"]["seconds"],
                                                          100.0 * r["trainable_params"] / total) if r else "-")
        print(line)
    print()
