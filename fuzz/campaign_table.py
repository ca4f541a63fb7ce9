#!/usr/bin/env python3
"""Prints fuzz/campaign.log (written by campaign.sh) as a Markdown table with totals per
target, for docs/security.md: python3 fuzz/campaign_table.py [LOG]"""
import collections
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "fuzz/campaign.log"
rows = []
with open(path, encoding="utf-8") as f:
    for line in f:
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 6:
            continue
        start, commit, target, seconds, execs, crash = fields[:6]
        extra = fields[6] if len(fields) > 6 else ""
        rows.append((start, commit, target, int(seconds), int(execs) if execs.isdigit() else 0, crash, extra))

print("| Start (UTC) | Build | Target | Seconds | Executions | exec/s | Crashes |")
print("|---|---|---|---|---|---|---|")
for start, commit, target, seconds, execs, crash, extra in rows:
    rate = execs // seconds if seconds else 0
    flags = f" ({extra})" if extra else ""
    print(f"| {start[11:16]} | {commit} | `{target}`{flags} | {seconds} | {execs:,} | {rate:,} | {'none' if crash == '0' else '1 (' + crash.split('/')[-1] + ')'} |")
print()
# Totals per target and, apart, per set of extra libFuzzer arguments (a length cap, say).
split = collections.defaultdict(lambda: [0, 0])
for _, _, target, seconds, execs, _, extra in rows:
    split[(target, extra)][0] += seconds
    split[(target, extra)][1] += execs
per = collections.defaultdict(lambda: [0, 0])
for (target, _), (seconds, execs) in split.items():
    per[target][0] += seconds
    per[target][1] += execs
print("| Target | Seconds | Executions |")
print("|---|---|---|")
for target, (seconds, execs) in sorted(per.items(), key=lambda kv: -kv[1][1]):
    print(f"| `{target}` | {seconds} | {execs:,} |")
    parts = sorted(((e, s, x) for (t, x), (s, e) in split.items() if t == target), reverse=True)
    if len(parts) > 1:
        for execs, seconds, extra in parts:
            print(f"| &nbsp;&nbsp;of which {extra or 'no extra arguments'} | {seconds} | {execs:,} |")
total = sum(e for _, e in per.values())
crashes = sum(1 for r in rows if r[5] != "0")
print(f"| **all** | {sum(s for s, _ in per.values())} | **{total:,}** |")
print()
print(f"Runs: {len(rows)}; runs that ended in a crash: {crashes}.")
