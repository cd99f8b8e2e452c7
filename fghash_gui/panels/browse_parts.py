"""Browse's sub-widgets, layout only: the query picker (left), the results header (the query's name on up to
two lines beside its picture and AP / P@k, then k, the compared run and the actions) and the results area (the
run's grid and the compared run's, then the distance histogram of both with its log-scale switch).
BrowsePanel (browse.py) wires them to the engine.
"""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.engine import TIES_AVERAGED_LABEL, TIES_BY_INDEX_LABEL
from fghash_gui.panels.browse_data import QueryListModel
from fghash_gui.widgets.distance_histogram import DistanceHistogram
from fghash_gui.widgets.elided_label import ElidedLabel, WrappedNameLabel
from fghash_gui.widgets.result_grid import ResultGrid
from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.widgets.titled import titled

K_CHOICES = (10, 20, 50, 100)
QUERY_PREVIEW = 96  # px: the query image beside the header, large enough to tell the bird apart
# The grid lists hits as the index returns them; AP and P@k in the header are order-free (core.retrieval.query_stats).
GRID_ORDER_TEXT = "ranked by Hamming distance; equal distances in database order (AP, P@k: ties averaged)"


class QueryPicker(QWidget):
    """The run menu (with Reload), a searchable list of the run's query images, "Open image…"."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_combo = _run_menu(24)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("reload the run list")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("search queries (file or class name)")
        self.query_model = QueryListModel(thumbnails, self)
        self.query_proxy = QSortFilterProxyModel(self)
        self.query_proxy.setSourceModel(self.query_model)
        self.query_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.query_proxy.setFilterRole(Qt.ItemDataRole.ToolTipRole)
        self.search_edit.textChanged.connect(self.query_proxy.setFilterFixedString)
        self.query_list = QListView()
        self.query_list.setModel(self.query_proxy)
        self.query_list.setIconSize(self.query_model.icon_size)
        self.query_list.setUniformItemSizes(True)
        self.query_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep both ends of long names
        self.open_image_button = QPushButton("Open image…")
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_combo, 1)
        run_row.addWidget(self.reload_button)
        queries_label = QLabel("Queries (test split) — or drop an image here")
        queries_label.setWordWrap(True)  # the list column is narrow: wrap rather than clip the hint
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Run"))
        layout.addLayout(run_row)
        layout.addWidget(queries_label)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.query_list, 1)
        layout.addWidget(self.open_image_button)
        self.setMinimumWidth(240)


class ResultsHeader(QWidget):
    """Row 1: the query's picture, its name and class (two lines, never cut to "Cardi…split"), AP and P@k.
    Row 2: k, the compared run, Explain…, Export figure…, the result order and the approximate-search switch."""

    def __init__(self, figure_k: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k_combo = QComboBox()
        for k in K_CHOICES:
            self.k_combo.addItem(str(k), k)
        self.compare_combo = _run_menu(20)
        self.explain_button = QPushButton("Explain…")
        self.explain_button.setToolTip("open the query (or the selected result) in Explain")
        self.figure_button = QPushButton("Export figure…")
        self.figure_button.setToolTip(f"save this query's top k (at most {figure_k}) of this run and the compared "
                                      "run as a paper figure (PDF, SVG or PNG), green/red frames, distances")
        self.query_preview = QLabel()
        self.query_preview.setFixedSize(QUERY_PREVIEW, QUERY_PREVIEW)
        self.query_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_label = WrappedNameLabel("No query yet")
        self.ap_label = QLabel("AP –   P@k –")
        self.ap_label.setObjectName("metric")
        self.order_label = QLabel(GRID_ORDER_TEXT)
        self.order_label.setToolTip(f"Results are listed with {TIES_BY_INDEX_LABEL}.\n"
                                    f"AP and P@k above: {TIES_AVERAGED_LABEL}.")
        # Shown when the run has an approximate (IVF) index; off by default: exact search is the reference.
        self.approximate_check = QCheckBox("Approximate search (IVF)")
        self.approximate_check.setVisible(False)
        text = QVBoxLayout()
        text.addWidget(self.query_label)
        text.addWidget(self.ap_label)
        first = QHBoxLayout()
        first.addLayout(text, 1)
        second = QHBoxLayout()
        for widget in (QLabel("k"), self.k_combo, QLabel("compare with"), self.compare_combo, self.explain_button,
                       self.figure_button):
            second.addWidget(widget)
        second.addStretch(1)
        third = QHBoxLayout()
        third.addWidget(self.order_label, 1)
        third.addWidget(self.approximate_check)
        rows = QVBoxLayout()
        rows.addLayout(first)
        rows.addLayout(second)
        rows.addLayout(third)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.query_preview)
        layout.addLayout(rows, 1)


class ResultsArea(QSplitter):
    """The run's grid and (when comparing) the compared run's side by side, the histogram below."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.grid = ResultGrid(thumbnails)
        self.compare_grid = ResultGrid(thumbnails)
        self.main_label = ElidedLabel("")
        self.compare_label = ElidedLabel("")
        self.compare_box = titled(self.compare_label, self.compare_grid)
        self.compare_box.setVisible(False)
        grids = QSplitter(Qt.Orientation.Horizontal)
        grids.addWidget(titled(self.main_label, self.grid))
        grids.addWidget(self.compare_box)
        self.histogram = DistanceHistogram()
        self.log_check = QCheckBox("log scale")
        self.log_check.setChecked(True)
        self.log_check.setToolTip("count axis: logarithmic (a few same-class images stay visible beside "
                                  "thousands of others) or linear")
        self.log_check.toggled.connect(self.histogram.set_log)
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.histogram, 1)
        below_layout.addWidget(self.log_check)
        self.addWidget(grids)
        self.addWidget(below)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 1)
        self.setSizes([560, 220])


def _run_menu(length: int) -> QComboBox:
    combo = QComboBox()
    combo.setMinimumContentsLength(length)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return combo
