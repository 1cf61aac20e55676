#!/usr/bin/python3
"""compare.py - `make bench-compare`: one bench run against an earlier one.

    bench/compare.py [OLD [NEW]]
        OLD defaults to build/bench.prev.json (where `make bench` moves the
        previous build/bench.json), NEW to build/bench.json.

For every figure in both: old and new median, the change, and a verdict.
A change counts as better/worse only when it is beyond 10% AND the two
runs' [min - max] ranges do not overlap; anything else is "~" (noise on a
shared machine). Targets whose status changed are listed. Exit 0 whatever
the figures say; 2 when a file is missing or unreadable.
"""
import json
import os
import signal
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THRESHOLD = 0.10


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench-compare: cannot read {path}: {e}", file=sys.stderr)
        if path.endswith("bench.prev.json"):
            print("bench-compare: run `make bench` twice (each run moves the previous "
                  "build/bench.json to build/bench.prev.json)", file=sys.stderr)
        sys.exit(2)


def num(v, unit):
    if v is None:
        return "-"
    if unit in ("ms",):
        return f"{v:.2f}"
    return f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def verdict(old, new):
    a, b = old["median"], new["median"]
    if not a:
        return "", None
    change = (b - a) / a
    up_is_good = new.get("better", "higher") == "higher"
    overlap = not (new["min"] > old["max"] or new["max"] < old["min"])
    if abs(change) < THRESHOLD or overlap:
        return "~", change
    good = (change > 0) == up_is_good
    return ("better" if good else "WORSE"), change


def describe(meta):
    mode = "quick" if meta.get("quick") else "full"
    return (f"{meta.get('date', '?')}  git {meta.get('git', '?')}  {mode}, "
            f"{meta.get('runs', '?')} runs, N={meta.get('n_tasks', '?')}  "
            f"{meta.get('cpu', '?')} x{meta.get('cores', '?')}  load "
            f"{meta.get('load_start', 0):.2f}->{meta.get('load_end', 0):.2f}")


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    old_path = argv[1] if len(argv) > 1 else os.path.join(REPO, "build", "bench.prev.json")
    new_path = argv[2] if len(argv) > 2 else os.path.join(REPO, "build", "bench.json")
    old, new = load(old_path), load(new_path)
    print(f"old: {describe(old.get('meta', {}))}")
    print(f"new: {describe(new.get('meta', {}))}")
    om, nm = old.get("meta", {}), new.get("meta", {})
    if om.get("cpu") != nm.get("cpu") or om.get("cores") != nm.get("cores"):
        print("NOTE: different machines: compare the ratios, not the figures")
    if om.get("quick") != nm.get("quick"):
        print("NOTE: one run is quick mode: its figures are rougher")
    print()
    old_rows = {r["id"]: r for r in old.get("rows", [])}
    w = 72
    print(f"{'':{w}} {'old':>9} {'new':>9} {'unit':<8} {'change':>8}  verdict")
    counts = {"better": 0, "WORSE": 0}
    seen = set()
    for r in new.get("rows", []):
        seen.add(r["id"])
        o = old_rows.get(r["id"])
        label = (r.get("title") or r["label"]).strip()[:w - 2]
        if not o:
            print(f"  {label:{w - 2}} {'':>9} {num(r.get('median'), r['unit']):>9} "
                  f"{r['unit']:<8} {'':>8}  new row")
            continue
        if "median" not in r or "median" not in o:
            state = lambda x: num(x.get("median"), x["unit"]) if "median" in x else "n/a"
            print(f"  {label:{w - 2}} {state(o):>9} {state(r):>9} {r['unit']:<8}")
            continue
        v, change = verdict(o, r)
        if v in counts:
            counts[v] += 1
        ch = f"{change:+.0%}" if change is not None else ""
        print(f"  {label:{w - 2}} {num(o['median'], r['unit']):>9} "
              f"{num(r['median'], r['unit']):>9} {r['unit']:<8} {ch:>8}  {v}")
    for rid, o in old_rows.items():
        if rid not in seen:
            print(f"  {(o.get('title') or o['label']).strip()[:w - 2]:{w - 2}} {num(o.get('median'), o['unit']):>9} "
                  f"{'':>9} {o['unit']:<8} {'':>8}  gone")
    old_t = {t["name"]: t["status"] for t in old.get("targets", [])}
    changed = [(t["name"], old_t.get(t["name"], "-"), t["status"])
               for t in new.get("targets", []) if old_t.get(t["name"]) != t["status"]]
    print()
    print(f"{counts['better']} better, {counts['WORSE']} worse (beyond {THRESHOLD:.0%} and "
          "outside the other run's range); the rest within noise")
    if changed:
        print("Targets that changed:")
        for name, a, b in changed:
            print(f"  {a} -> {b}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
