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
EFFICIENCY_GOAL = {"multifusnet": 0.9}  # method rate / plain rate over what its FLOPs allow (issue 13)
ENCODE_GOAL = 3000  # fghash's float32 encoding from files, images/s at 224 px, warmed (issue 27)


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
        for r in train["rows"]:  # every method's step, and its FLOP efficiency against the plain step
            key = r["config"]
            label, goal = STEP_GOALS.get(key, (f"{key} step images/s", None))
            if key.startswith("plain"):
                label = f"{key} {train['backbone']} step images/s"
            add(f"{label} ({r['image_size']}px, b{r['batch']})", f"{r['images_per_s']:.0f}",
                f">= {goal}" if goal else "", r["images_per_s"] >= goal if goal else None)
            if "efficiency" in r:
                eff_goal = EFFICIENCY_GOAL.get(key)
                add(f"  {key} vs plain / FLOPs allow = efficiency", f"{r['vs_plain']:.2f}x / "
                    f"{r['flops_ratio']:.2f}x = {r['efficiency']:.2f}", f">= {eff_goal}" if eff_goal else "",
                    r["efficiency"] >= eff_goal if eff_goal else None)
    else:
        add("training step", "no result (train.log)")
    compiled = _load(out, "compile")
    eager = {r["config"]: r for r in train["rows"]} if train else {}
    if compiled:
        how = compiled.get("compile_backend") or f"compile_step {compiled.get('compile_step')}"
        for r in compiled["rows"]:
            goal = STEP_GOALS.get(r["config"], (None, None))[1]
            add(f"{r['config']} step images/s compiled ({how}; {r['image_size']}px, b{r['batch']})",
                f"{r['images_per_s']:.0f}", f">= {goal}" if goal else "", r["images_per_s"] >= goal if goal else None)
            base = eager.get(r["config"])
            if base and base["batch"] == r["batch"] and base["image_size"] == r["image_size"]:
                ratio = r["images_per_s"] / base["images_per_s"]
                # a win here is what would let compile_step "auto" turn on (COMPILE_WINS_ON)
                add(f"  {r['config']} compiled / eager (same run)", f"{r['images_per_s']:.0f} / "
                    f"{base['images_per_s']:.0f} = {ratio:.2f}", "> 1 (then auto may turn on)", ratio > 1.0)
    else:
        add("compiled training step", "no result (compile.log)")
    e2e = _load(out, "e2e")
    if e2e:
        batch = f" (b{e2e['batch']})" if "batch" in e2e else ""
        for r in e2e["rows"]:
            add(f"{r['method']} from JPEG files{batch}, cache / synthetic", f"{r['cache']:.0f} / {r['synthetic']:.0f} = "
                f"{r['cache_vs_synthetic']:.2f}", ">= 0.90", r["cache_vs_synthetic"] >= 0.9)
            add(f"{r['method']} from JPEG files, PIL workers / synthetic (reference)",
                f"{r['pil']:.0f} / {r['synthetic']:.0f} = {r['pil_vs_synthetic']:.2f}")
        enc = e2e.get("encode")
        if enc:
            add(f"fghash encoding (float32) images/s from files: PIL b{enc['batch']} / cache b{enc['batch']} / "
                f"cache b{enc['large_batch']}", f"{enc['pil']:.0f} / {enc['cache']:.0f} / {enc['cache_large_batch']:.0f}")
            best = max(enc["cache"], enc["cache_large_batch"])
            add("fghash float32 encoding images/s, warmed (cache, the better batch)", f"{best:.0f}",
                f">= {ENCODE_GOAL}", best >= ENCODE_GOAL)
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
    study = _load(out, "study")
    if study:
        cells = study["cell_seconds"]
        size = f"{study['image_size']} px" if study["image_size"] else "the file's image size"
        add(f"study {study['study']} ({size}): {study['finished']}/{study['cells']} cells finished, wall s per cell", f"mean {sum(cells) / max(len(cells), 1):.1f} (max {max(cells, default=0):.1f})",
            "all finish", study["finished"] == study["cells"] > 0)
        add("  study bookkeeping / training", f"{100 * study['overhead_fraction']:.2f} %",
            f"<= {100 * study['overhead_goal']:.0f} %", study["overhead_fraction"] <= study["overhead_goal"])
    else:
        add("study", "no result (study.log)")
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
