"""The GPU check's summary: reads OUTDIR/*.json, tests.xml and status.tsv written by bench/gpu_check.sh,
prints one table (figure, measured, goal, met) and writes OUTDIR/summary.txt and OUTDIR/summary.json.

    python3 bench/gpu_report.py OUTDIR
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


# The training-step goals on one H100 / H200 (images/s; FCAENet's are anchors/s, three views each).
STEP_GOALS = {"adsh": ("ADSH step images/s", 3500), "fcaenet": ("FCAENet step anchors/s", 1100)}


def _load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows(out: Path) -> list[tuple[str, str, str, str]]:
    """(figure, measured, goal, met) rows; a missing figure says which step's log to read."""
    table = []

    def add(name, value, goal="", ok=None):
        table.append((name, value, goal, "" if ok is None else ("yes" if ok else "NO")))

    tests = out / "tests.xml"
    if tests.exists():
        suite = ET.parse(tests).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        add("pytest -m cuda", f"{passed} passed, {counts['failures'] + counts['errors']} failed, "
            f"{counts['skipped']} skipped", "all pass", counts["failures"] + counts["errors"] == 0 and passed > 0)
    else:
        add("pytest -m cuda", "no result (tests.log)")
    train = _load(out, "train")
    if train:
        by = {r["config"]: r for r in train["rows"]}
        for key, (label, goal) in STEP_GOALS.items():
            if key in by:
                r = by[key]
                add(f"{label} ({r['image_size']}px, b{r['batch']})", f"{r['images_per_s']:.0f}", f">= {goal}",
                    r["images_per_s"] >= goal)
        for key in ("plain", "plain@multifus"):
            if key in by:
                add(f"{key} {train['backbone']} step images/s ({by[key]['image_size']}px)",
                    f"{by[key]['images_per_s']:.0f}")
        if "multifusnet" in by:
            r = by["multifusnet"]
            add(f"Multi-FusNet step images/s ({r['image_size']}px)", f"{r['images_per_s']:.0f}")
            if "efficiency" in r:
                add("Multi-FusNet vs plain / FLOPs allow", f"{r['vs_plain']:.2f}x / {r['flops_ratio']:.2f}x = "
                    f"{r['efficiency']:.2f}", ">= 0.9", r["efficiency"] >= 0.9)
    else:
        add("training step", "no result (train.log)")
    large = _load(out, "train_large")
    if large:
        for r in large["rows"]:
            goal = STEP_GOALS["adsh"][1] if r["config"] == "adsh" else None
            add(f"{r['config']} step images/s ({r['image_size']}px, b{r['batch']})", f"{r['images_per_s']:.0f}",
                f">= {goal}" if goal else "", r["images_per_s"] >= goal if goal else None)
    e2e = _load(out, "e2e")
    if e2e:
        for r in e2e["rows"]:
            add(f"{r['method']} from JPEG files, cache / synthetic", f"{r['cache']:.0f} / {r['synthetic']:.0f} = "
                f"{r['cache_vs_synthetic']:.2f}", ">= 0.90", r["cache_vs_synthetic"] >= 0.9)
            add(f"{r['method']} from JPEG files, PIL workers / synthetic (reference)",
                f"{r['pil']:.0f} / {r['synthetic']:.0f} = {r['pil_vs_synthetic']:.2f}")
        enc = e2e.get("encode")
        if enc:
            add(f"fghash encoding (float32) images/s from files: PIL b{enc['batch']} / cache b{enc['batch']} / "
                f"cache b{enc['large_batch']}", f"{enc['pil']:.0f} / {enc['cache']:.0f} / {enc['cache_large_batch']:.0f}")
            add(f"AMP encoding images/s from files (cache, b{enc['large_batch']}; not used by fghash)",
                f"{enc['amp_cache_large_batch']:.0f}", ">= 5000", enc["amp_cache_large_batch"] >= 5000)
    else:
        add("end to end", "no result (e2e.log)")
    app = _load(out, "app")
    if app and "thread_ratio" in app:  # the app's default (a child process), then its --train-in-process thread
        add("training in the app (child process, its default) / CLI", f"{app['ratio']:.3f}", ">= 0.95",
            app["ratio"] >= 0.95)
        add("training in the app (worker thread, --train-in-process) / CLI", f"{app['thread_ratio']:.3f}")
    else:
        add("training in the app / CLI", f"{app['ratio']:.3f}" if app else "no result (app.log)", ">= 0.95",
            app["ratio"] >= 0.95 if app else None)
    mp = _load(out, "map")
    if mp and "device_vs_cpu" in mp:
        add(f"mAP@all {mp['queries']}x{mp['database']}: {mp['device']} vs cpu",
            f"{mp['device_vs_cpu']:.1f}x, max |dAP| {mp['max_ap_difference_vs_cpu']:.1e}", "equal (<= 1e-12)",
            mp["max_ap_difference_vs_cpu"] <= 1e-12)
    elif mp:
        add(f"mAP@all {mp['queries']}x{mp['database']} on {mp['device']}", f"{mp['ours_s']:.3f} s")
    else:
        add("mAP", "no result (map.log)")
    search = _load(out, "search")
    if search:
        for r in search["rows"]:
            add(f"top-{search['k']} search, {r['database']} codes: {search['device']} vs {r['cpu_path']}",
                f"{r['ratio']:.1f}x", "exactly equal", r["exactly_equal"])
    else:
        add("search", "no result (search.log)")
    status = out / "status.tsv"
    if status.exists():
        steps = [line.split("\t") for line in status.read_text().splitlines() if line]
        failed = [f"{name} (rc {rc})" for name, rc, _ in steps if rc != "0"]
        total = sum(int(s) for _, _, s in steps)
        add("steps", f"{len(steps)} run in {total} s" + (f"; failed: {', '.join(failed)}" if failed else ""),
            "<= 480 s, none failed", total <= 480 and not failed)
    return table


def main() -> None:
    out = Path(sys.argv[1])
    table = rows(out)
    env = (out / "env.txt").read_text().strip().splitlines() if (out / "env.txt").exists() else []
    widths = [max(len(r[i]) for r in table + [("figure", "measured", "goal", "met")]) for i in range(4)]
    lines = env[1:2]
    if any("no GPU" in line for line in env):
        lines.append("CPU dry run: the goals are for one H100 / H200, not for this machine")
    for r in [("figure", "measured", "goal", "met")] + table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps({"env": env, "rows": table}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
