"""Screenshots of the real app on the built-in demo data: docs/screenshot-<panel>.png.

Run under a (virtual) X server, e.g.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots.py

It trains a small FCAENet run in the Train tab (live curves), a small ADSH baseline through the engine
(for the comparisons), then opens each tab and grabs the screen with QScreen.grabWindow(0).
Runs go to $FGHASH_HOME (default: a fresh temporary folder), so the user's run store is never touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def tiny(method: str, image_size: int, epochs: int):
    from core.config.train_config import TrainConfig

    cfg = TrainConfig(dataset_kind="demo", method=method, bits=12, backbone="resnet18", weights="none",
                      image_size=image_size, resize_size=round(image_size * 256 / 224), device="cpu",
                      epochs=epochs, batch_size=16, lr=1e-3, lr_milestones=(), eval_every=1)
    return cfg.replace(adsh=dataclasses.replace(cfg.adsh, num_samples=96, inner_epochs=2),
                       fcae=dataclasses.replace(cfg.fcae, srem_regions=20, srem_size=12))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE), help="folder for the PNG files")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--multifusnet", action="store_true",
                        help="also train a tiny Multi-FusNet run and grab its per-level maps")
    parser.add_argument("--only", default="", metavar="NAMES",
                        help="comma-separated screenshot names to write (e.g. classes,confusion,codemap); "
                             "default: all")
    args = parser.parse_args()
    os.environ.setdefault("FGHASH_HOME", tempfile.mkdtemp(prefix="fghash-shots-"))

    import torch

    torch.set_num_threads(2)
    from PySide6.QtGui import QGuiApplication

    from fghash_gui.app import create_app

    app = create_app()
    from core import engine
    from fghash_gui import gui_gc
    from fghash_gui.main_window import MainWindow
    from fghash_gui.panels.classes_model import LABEL_ROLE

    gui_gc.install()  # as the app does: Qt objects are collected on this thread only

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def wait_for(condition, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {what}")
            pump(0.1)

    wanted = {n.strip() for n in args.only.split(",") if n.strip()}

    def grab(name: str) -> None:
        if wanted and name not in wanted:
            return
        pump(0.8)
        path = Path(args.out) / f"screenshot-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not QGuiApplication.primaryScreen().grabWindow(0).save(str(path)):
            raise SystemExit(f"could not write {path}")
        print("wrote", path)

    window = MainWindow()
    screen = QGuiApplication.primaryScreen().availableGeometry()
    window.setGeometry(screen)
    window.show()
    pump(1.0)

    def run_of(method: str, epochs: int) -> str:
        """A finished run of `method` in this home, trained without the GUI if there is none yet."""
        done = [r for r in engine.list_runs() if r.method == method and r.status == "finished"]
        if done:
            return done[0].run_id
        print(f"training {method}…")
        generator = engine.train(tiny(method, args.image_size, epochs))
        while True:
            try:
                next(generator)
            except StopIteration as stop:
                return stop.value.run_id
            app.processEvents()

    # A baseline to compare with (same generator the Train tab drives).
    baseline_id = run_of("adsh", args.epochs)

    if wanted and "train" not in wanted:  # reuse a finished FCAENet run of this home when there is one
        fcaenet_id = run_of("fcaenet", args.epochs)
    else:  # Train tab: a live FCAENet run.
        print("training FCAENet in the Train tab…")
        window.tabs.setCurrentWidget(window.training)
        window.training.start_config(tiny("fcaenet", args.image_size, args.epochs))
        wait_for(lambda: not window.training.is_training(), 1800, "the training run")
        finished = window.training.last_finished
        if finished is None or finished.status != "finished":
            raise SystemExit(f"training did not finish: {finished}")
        fcaenet_id = finished.run_id
        grab("train")

    # Browse: open the run, a query, k = 20, compared with the baseline.
    browse = window.browse
    window.open_run(fcaenet_id)
    wait_for(lambda: browse.result is not None, 120, "the first query")
    browse.k_combo.setCurrentText("20")
    browse.select_query_row(37)
    wait_for(lambda: browse.result is not None and browse.result.result.query_path == browse.catalog.paths[37]
             and len(browse.grid.result_model.cells) == 20, 120, "the query")
    browse.set_compare_run(baseline_id)
    wait_for(lambda: browse.compare_result is not None, 120, "the comparison")
    wait_for(lambda: browse.thumbnails.pending() == 0, 60, "thumbnails")
    grab("browse")

    # Explain: Grad-CAM of the third result towards the query's code.
    hit = browse.grid.result_model.cells[2].path
    browse._request_explain(hit)
    explain = window.explain
    explain.set_overlay("Grad-CAM (target: query code)")
    wait_for(lambda: explain.current is not None and explain.current.kind == "gradcam", 120, "Grad-CAM")
    explain.opacity_slider.setValue(0.55)
    explain.set_compare_run(baseline_id)  # the same image explained by the baseline, beside it
    wait_for(lambda: explain.compare_explanation is not None and explain.compare_explanation.kind == "gradcam",
             120, "the baseline's Grad-CAM")
    grab("explain")
    explain.set_compare_run(None)
    explain.set_overlay("SREM mask")
    wait_for(lambda: explain.current is not None and explain.current.kind == "srem", 120, "SREM")
    grab("explain-srem")

    # Runs: both runs selected, their mAP curves compared.
    runs = window.runs
    window.tabs.setCurrentWidget(runs)  # reloads the run list on the worker
    wait_for(lambda: {fcaenet_id, baseline_id} <= {r.run_id for r in runs.model.records}, 60, "the run list")
    runs.select_runs([fcaenet_id, baseline_id])
    runs.compare_selected()
    wait_for(lambda: len(runs.compared) == 2, 60, "the mAP histories")
    grab("runs")
    runs.plot_tabs.setCurrentWidget(runs.curves)
    wait_for(lambda: len(runs.curves.shown) == 2, 120, "the PR and P@k curves")
    grab("runs-curves")

    # Classes: per-class AP (worst class selected, its worst queries), the confusion view, the code map.
    window.open_run(fcaenet_id)
    wait_for(lambda: browse.result is not None and browse.run_id == fcaenet_id, 120, "the query")
    browse.select_query_row(37)
    wait_for(lambda: browse.result.result.query_path == browse.catalog.paths[37], 120, "the query")
    classes = window.classes
    window.tabs.setCurrentWidget(classes)
    wait_for(lambda: classes.report is not None and classes.report.run_id == fcaenet_id, 120, "class report")
    classes.set_compare_run(baseline_id)  # the per-class AP difference to the baseline
    wait_for(lambda: classes.class_model.compare is not None, 120, "the baseline's class report")
    classes.class_table.setCurrentIndex(classes.class_table.model().index(0, 0))
    wait_for(lambda: classes.thumbnails.pending() == 0, 60, "thumbnails")
    grab("classes")
    classes.tabs.setCurrentIndex(1)
    grab("confusion")
    classes.tabs.setCurrentWidget(classes.code_map)
    wait_for(lambda: classes.code_map.data is not None, 120, "the code map")
    code_map = classes.code_map
    worst = classes.class_table.model().index(0, 0).data(LABEL_ROLE)
    code_map.highlight(worst)  # the worst class and its confusers in colour, the rest grey
    hovered = next(p for p in code_map.scatter.points() if int(code_map.data.labels[int(p.data())]) == worst)
    code_map._on_hovered(None, [hovered], None)  # what hovering a point shows
    wait_for(lambda: classes.thumbnails.pending() == 0, 60, "thumbnails")
    grab("codemap")

    if args.multifusnet:
        levels_run = run_of("multifusnet", 2)
        window.open_run(levels_run)
        wait_for(lambda: browse.result is not None and browse.run_id == levels_run
                 and browse.result.result.run_id == levels_run, 120, "the Multi-FusNet query")
        browse._request_explain(browse.grid.result_model.cells[0].path)
        explain.set_overlay("Multi-FusNet levels")
        wait_for(lambda: explain.current is not None and explain.current.kind == "levels", 120, "levels")
        explain.level_combo.setCurrentText("X2/eca")
        explain.colormap_combo.setCurrentText("inferno")
        grab("explain-levels")

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
