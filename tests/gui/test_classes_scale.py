"""Classes views on a real class count (issue 23, item 3): 200 class names of which 50 are present. The code map
styles only the present classes, each distinctly, names them on hover and in a legend, and can highlight one class
with its confusers against grey; the confusion matrix shows the present classes only, most confused first, with
class names on its axes, never a negative index, and zooms."""

from __future__ import annotations

import numpy as np

from core import engine
from core.retrieval.class_stats import ClassReport
from fghash_gui.panels.code_map import CodeMapData
from fghash_gui.panels.confusion_matrix import matrix_order, name_ticks
from fghash_gui.widgets.class_palette import GREY

NAMES = tuple(f"{i + 1:03d}.Species_number_{i + 1}" for i in range(200))
PRESENT = np.arange(0, 200, 4)  # 50 classes of 200


def _report(run_id: str) -> ClassReport:
    rng = np.random.default_rng(0)
    confusion = np.zeros((200, 200))
    for c in PRESENT:
        confusion[c, PRESENT] = rng.random(50) * 2
        confusion[c, c] = 2 + (c % 7)  # own share varies by class
    num_queries = np.zeros(200, dtype=np.int64)
    num_queries[PRESENT] = 3
    ap = np.where(num_queries > 0, 0.5, np.nan)
    labels = np.repeat(PRESENT, 3)
    return ClassReport(run_id=run_id, k=20, class_names=NAMES, ap=ap, num_queries=num_queries,
                       own_share=np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1), confusion=confusion,
                       example_paths=tuple("" for _ in NAMES), per_query_ap=np.full(len(labels), 0.5),
                       query_labels=labels, query_paths=tuple(f"/q/{i}.jpg" for i in range(len(labels))),
                       map_all=0.5)


def test_confusion_matrix_keeps_the_present_classes_sorted_and_named(window):
    report = _report("synthetic")
    classes, shares = matrix_order(report.confusion, report.num_queries)
    assert sorted(classes.tolist()) == PRESENT.tolist() and shares.shape == (50, 50)
    own = np.diag(shares)
    assert np.all(np.diff(own) >= 0)  # most confused first, the diagonal still the own class
    assert np.allclose(shares.sum(axis=1), 1.0)
    view = window.classes.matrix
    view.set_report(report)
    assert view.image.image.shape == (50, 50)
    for side in ("left", "bottom"):
        levels = view.plot.getAxis(side)._tickLevels
        labels = [text for level in levels for _pos, text in level]
        positions = [pos for level in levels for pos, _text in level]
        assert len(labels) == 50 and min(positions) > 0  # every class named, no negative index
        assert all(not text.lstrip("-").isdigit() for text in labels)
        assert len(levels[0]) <= (25 if side == "left" else 10)  # the first level fits; the rest when zoomed
    limits = view.plot.getViewBox().state["limits"]
    assert limits["xLimits"] == [0, 50] and limits["yLimits"] == [0, 50]
    view.plot.getViewBox().setRange(xRange=(0, 5), yRange=(0, 5), padding=0)  # zoom in to five classes
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    assert x0 >= 0 and y0 >= 0 and x1 - x0 < 10  # zoomed in
    assert view.describe(0, 1).startswith(f"{NAMES[classes[0]]} queries: ")
    assert name_ticks(["a", "b", "c"], target=20) == [[(0.5, "a"), (1.5, "b"), (2.5, "c")], []]


def test_code_map_styles_present_classes_apart_and_highlights_confusers(window):
    view = window.classes.code_map
    rng = np.random.default_rng(1)
    codes = np.where(rng.random((500, 12)) > 0.5, 1, -1).astype(np.int8)
    cmap = engine.code_map(codes)
    labels = PRESENT[rng.integers(0, 50, size=500)]
    data = CodeMapData("synthetic", cmap, labels, [f"/db/{i}.jpg" for i in range(500)], NAMES)
    view.set_run("synthetic")
    view._on_loaded(data)
    assert sorted(view.styles) == PRESENT.tolist()  # only the present classes get a style
    assert len({(s.colour, s.symbol) for s in view.styles.values()}) == 50  # all told apart
    assert view.legend.count() == 51 and view.legend.item(1).text() == NAMES[PRESENT[0]]
    point = view.scatter.points()[3]
    assert view._tip(0, 0, point.data()) == f"{NAMES[labels[int(point.data())]]}\n{int(point.data())}.jpg"

    view.set_confusion("synthetic", _report("synthetic").confusion)
    chosen = int(PRESENT[10])
    view.highlight(chosen)
    coloured = view.coloured_classes()
    assert coloured[0] == chosen and len(coloured) == 4
    assert coloured[1:] == [c for c, _s in engine.top_confusions(_report("s").confusion, chosen, n=3)]
    brushes = [p.brush().color().name() for p in view.scatter.points()]
    point_labels = labels[[int(p.data()) for p in view.scatter.points()]]
    for label, colour in zip(point_labels, brushes):
        assert (colour == GREY) == (label not in coloured)
    first_coloured = next(i for i, label in enumerate(point_labels) if label in coloured)
    assert all(label in coloured for label in point_labels[first_coloured:])  # coloured points drawn on top
    view.highlight(None)
    assert len(view.coloured_classes()) == 50
