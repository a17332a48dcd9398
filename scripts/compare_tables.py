#!/usr/bin/env python3
"""Compares two `reproduce` output folders table by table: every column the older run has must
hold the same values in the newer one (new columns are allowed: they are additions).

Usage: scripts/compare_tables.py OLD_OUT NEW_OUT   (exit 1 when a value or a column differs)
"""
import csv
import glob
import os
import sys

old, new = sys.argv[1], sys.argv[2]
bad = 0
for f in sorted(glob.glob(f"{old}/tables/*.csv") + glob.glob(f"{old}/models/*/*.csv") + glob.glob(f"{old}/cohort/*.csv")):
    g = os.path.join(new, os.path.relpath(f, old))
    a = list(csv.DictReader(open(f)))
    b = list(csv.DictReader(open(g)))
    if len(a) != len(b):
        print(f"{f}: {len(a)} rows, {len(b)} in the new run")
        bad += 1
        continue
    added = sorted(set(b[0]) - set(a[0])) if a else []
    removed = sorted(set(a[0]) - set(b[0])) if a else []
    diff = sum(1 for x, y in zip(a, b) for k in x if x[k] != y.get(k))
    print(f"{os.path.relpath(f, old)}: {len(a)} rows, {diff} values differ, added {added}, removed {removed}")
    bad += diff + len(removed)
print("identical where both have a column" if bad == 0 else f"{bad} differences")
sys.exit(1 if bad else 0)
