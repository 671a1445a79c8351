"""Turn a pytest-benchmark JSON file into the README's ratio table.

    python bench/report.py bench/results/latest.json            # print
    python bench/report.py bench/results/latest.json --readme   # rewrite README

``--readme`` also drops the per-round samples from the JSON file (tens of
MB for the fast cases), keeping the statistics, so the run behind the README
table can be committed next to it.

Within each benchmark group, every row is shown as its minimum time, its ratio
to the group's ``roofline`` (``np.copyto`` on arrays of the same size) and its
speed-up over the group's ``numpy`` baseline. All ratios compare cases of the
same run: the machine is shared, so only same-run ratios mean anything.
Rows may carry extra figures in ``extra_info`` (e.g. evaluations used); they
are appended to the row's note.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
ORDER = {"fastfd": 0, "numpy": 2, "roofline": 3}


def _fmt_time(t):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t:.3g} s"


def _note(extra):
    skip = {"role"}
    parts = []
    for k, v in extra.items():
        if k in skip:
            continue
        if isinstance(v, float):
            v = f"{v:.4g}"
        parts.append(f"{k}={v}")
    return ", ".join(parts)


def table(data):
    groups = {}
    for b in data["benchmarks"]:
        groups.setdefault(b.get("group") or b["name"], []).append(b)
    lines = ["| case | variant | min time | × copyto | speed-up vs NumPy | notes |",
             "|---|---|---|---|---|---|"]
    for group in sorted(groups):
        rows = groups[group]
        by_role = {r["extra_info"].get("role", r["name"]): r for r in rows}
        roof = by_role.get("roofline")
        base = by_role.get("numpy")
        rows.sort(key=lambda r: (ORDER.get(r["extra_info"].get("role", ""), 1), r["name"]))
        for r in rows:
            role = r["extra_info"].get("role", r["name"])
            t = r["stats"]["min"]
            vs_roof = f"{t / roof['stats']['min']:.2f}" if roof and role != "roofline" else ""
            vs_np = (f"{base['stats']['min'] / t:.2f}x"
                     if base and role not in ("numpy", "roofline") else "")
            lines.append(f"| {group} | {role} | {_fmt_time(t)} | {vs_roof} | {vs_np} | "
                         f"{_note(r['extra_info'])} |")
    return "\n".join(lines)


def machine(data):
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {})
    return (f"Measured {data.get('datetime', '?')[:10]} on {cpu.get('brand_raw', '?')}, "
            f"{cpu.get('count', '?')} cores, Python {m.get('python_version', '?')}, "
            f"NumPy {m.get('numpy', '?')}, Numba {m.get('numba', '?')} "
            f"({m.get('numba_threads', '?')} threads). Times are minima over rounds.")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", type=pathlib.Path)
    ap.add_argument("--readme", action="store_true", help="rewrite the README's table")
    args = ap.parse_args(argv)
    data = json.loads(args.json.read_text())
    text = f"{machine(data)}\n\n{table(data)}"
    if args.readme:
        for b in data["benchmarks"]:
            b["stats"].pop("data", None)
        args.json.write_text(json.dumps(data, indent=1))
        readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
        src = readme.read_text()
        if START not in src or END not in src:
            raise SystemExit(f"README.md has no {START} ... {END} block")
        new = re.sub(re.escape(START) + ".*?" + re.escape(END),
                     lambda _: f"{START}\n{text}\n{END}", src, flags=re.S)
        readme.write_text(new)
    print(text)


if __name__ == "__main__":
    main()
