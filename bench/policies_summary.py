#!/usr/bin/env python3
"""Summarise bench/policies.sh: python3 policies_summary.py raw.csv
Per case: median CPU µs per request, the median over rounds of its ratio to its
base measured in the same round, median p99, and non-2xx answers (must be 0)."""
import collections
import csv
import statistics as S
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
by_case = collections.defaultdict(list)
by_round = collections.defaultdict(dict)
for r in rows:
    by_case[r["case"]].append(r)
    by_round[r["round"]][r["case"]] = r



def same_round(rs, base):
    """This case's CPU per request over base's, round by round."""
    out = []
    for r in rs:
        b = by_round[r["round"]].get(base)
        if b and float(b["us_req"]) > 0:
            out.append(float(r["us_req"]) / float(b["us_req"]))
    return out


print(f"\n{'case':<18} {'base':<16} {'µs/req':>7} {'× base':>7} {'(rounds)':<20} {'× plain':>7} {'p99 ms':>7} {'rps':>7} {'non-2xx':>7}")
for case, rs in by_case.items():
    base = rs[0]["base"]
    us = S.median(float(r["us_req"]) for r in rs)
    ratios = same_round(rs, base)
    ratio = f"{S.median(ratios):.2f}" if ratios else "-"
    to_plain = same_round(rs, "plain") if case != "plain" else []
    vs_plain = f"{S.median(to_plain):.2f}" if to_plain else "-"
    spread = "/".join(f"{x:.2f}" for x in ratios) if ratios else ""
    p99 = S.median(float(r["p99_ms"] or 0) for r in rs)
    rps = S.median(float(r["rps"] or 0) for r in rs)
    non2 = sum(int(r["non2xx"] or 0) for r in rs)
    print(f"{case:<18} {base:<16} {us:>7.2f} {ratio:>7} {spread:<20} {vs_plain:>7} {p99:>7.2f} {rps:>7.0f} {non2:>7}")
