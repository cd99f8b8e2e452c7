"""Browse at 1400 px (issue 23, item 7): names get two lines instead of "Cardi…split", the grids reflow to
their width in compare mode too, and the histogram draws both runs on a labelled log axis."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontMetrics

from fghash_gui.widgets.elided_label import wrap_name
from fghash_gui.widgets.result_grid import MIN_CELL_WIDTH


def test_wrap_name_breaks_after_separators_and_elides_only_the_last_line():
    metrics = QFontMetrics(QFont())
    name = "029.American_Crow_of_the_northern_plains"
    width = metrics.horizontalAdvance("029.American_Crow_")
    lines = wrap_name(name, metrics, width)
    assert len(lines) == 2 and lines[0] == "029.American_Crow_"  # broken after a separator, not mid-word
    assert "…" in lines[1] and lines[1].endswith("plains")  # the end stays readable
    assert wrap_name("Cardinal", metrics, width) == ["Cardinal"]
    short = wrap_name("029.American_Crow", metrics, metrics.horizontalAdvance("029.American_Cr"))
    assert "".join(short) == "029.American_Crow"  # two lines hold it whole, nothing elided
    assert all(metrics.horizontalAdvance(line) <= width for line in lines)


def test_browse_at_1400_px_compare_reflows_and_draws_both_histograms(window, trained_runs, qtbot):
    window.resize(1400, 900)
    browse = window.browse
    with qtbot.waitSignal(browse.results_shown, timeout=60_000):
        window.open_run(trained_runs["fcaenet"].run_id)
    with qtbot.waitSignal(browse.compare_shown, timeout=60_000):
        browse.set_compare_run(trained_runs["adsh"].run_id)
    qtbot.wait(50)  # the layout settles
    for grid in (browse.grid, browse.compare_grid):
        width = grid.viewport().width()
        cell = grid.gridSize().width()
        assert grid.columns() >= 4, (width, cell)  # was 3 per grid in compare mode
        assert cell >= MIN_CELL_WIDTH and width - grid.columns() * cell < cell  # no spare column of space
    browse.grid.resize(browse.grid.width() + 3 * MIN_CELL_WIDTH, browse.grid.height())
    assert browse.grid.columns() >= 7  # wider: more columns

    label = browse.query_label
    assert label.text().startswith(browse.result.result.query_path.split("/")[-1])
    assert label.height() >= 2 * label.fontMetrics().lineSpacing()  # room for a second line
    assert "".join(wrap_name(label.text(), label.fontMetrics(), 10_000)) == label.text()

    histogram = browse.histogram
    assert len(histogram.compare_bars) == 2 and histogram.correct_bars is not None
    title = histogram.plotItem.titleLabel.text  # the title is the legend: which run is dark, which light
    assert "dark: fcaenet" in title and "light: adsh" in title and "green: same class" in title
    assert "log scale" in histogram.getAxis("left").labelText
    browse.set_compare_run(None)
    assert histogram.compare_bars == []
