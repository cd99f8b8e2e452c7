"""Data helpers of the Browse tab: the run's query list, its model, engine results -> grid cells, and the
header texts.

Kept apart from browse.py so the widget code stays about layout and signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QIcon

from core import engine
from core.engine import TIES_AVERAGED_LABEL, TIES_BY_INDEX_LABEL, FghashError
from fghash_gui.widgets.result_grid import ResultCell
from fghash_gui.widgets.thumbnails import ThumbnailLoader

QUERY_ICON = QSize(56, 56)


@dataclass(frozen=True)
class QueryCatalog:
    """The query (test split) images of a run: paths, labels and class names, and a title for the grid."""

    run_id: str
    title: str
    paths: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    approximate: engine.ApproximateInfo | None = None  # the run's IVF index, when one was built
    approximate_problem: str = ""  # why that index cannot be used (stale, damaged), else ""

    @classmethod
    def load(cls, run_id: str) -> "QueryCatalog":
        """Runs on the worker: the run's saved query split and class names, through the engine's session,
        and the header of its approximate index (a damaged one is reported, not fatal)."""
        session = engine.session(run_id)
        cfg = session.cfg
        queries = session.queries
        paths = tuple(queries.paths) if queries is not None else ()
        labels = tuple(int(x) for x in queries.labels) if queries is not None else ()
        title = f"{run_id}: {cfg.method}, {cfg.bits} bits, {cfg.dataset_kind}"
        approximate, problem = None, ""
        try:
            approximate = engine.approximate_info(session.paths, session.database)
        except FghashError as exc:
            problem = str(exc)
        if approximate is not None and approximate.stale:
            problem = (f"the approximate index was built before the database last changed: rebuild it with "
                       f"`fghash index {run_id} --approximate`")
        return cls(run_id, title, paths, labels, tuple(session.class_names), approximate, problem)

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)


class QueryListModel(QAbstractListModel):
    """The query list: file name + class, a small thumbnail; UserRole = path, ToolTipRole = searchable text."""

    icon_size = QUERY_ICON

    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self.catalog: QueryCatalog | None = None
        self._rows: dict[str, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._loading_icon = QIcon(thumbnails.loading)
        thumbnails.ready.connect(self._on_thumbnails_ready)

    def set_catalog(self, catalog: QueryCatalog | None) -> None:
        self.beginResetModel()
        self.catalog = catalog
        self._icons = {}
        self._rows = {p: i for i, p in enumerate(catalog.paths)} if catalog else {}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() or self.catalog is None else len(self.catalog.paths)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.catalog is None or not index.isValid():
            return None
        path = self.catalog.paths[index.row()]
        class_name = self.catalog.class_name(self.catalog.labels[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{Path(path).name}\n{class_name}"
        if role == Qt.ItemDataRole.DecorationRole:
            # A QIcon is scaled to the view's icon size; a bare QPixmap would be drawn at full size.
            pixmap = self._thumbnails.get(path)
            if pixmap is None:
                return self._loading_icon
            icon = self._icons.get(path)
            if icon is None:
                icon = self._icons[path] = QIcon(pixmap)
            return icon
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{path} · {class_name}"
        if role == Qt.ItemDataRole.UserRole:
            return path
        return None

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        rows = sorted(self._rows[p] for p in paths if p in self._rows)
        if rows:
            self.dataChanged.emit(self.index(rows[0]), self.index(rows[-1]), [Qt.ItemDataRole.DecorationRole])


def cells_from_result(result: Any) -> list[ResultCell]:
    """The engine's QueryResult hits as grid cells (rank 1 first)."""
    return [
        ResultCell(rank=hit.rank, path=hit.path, distance=int(hit.distance), label=int(hit.label),
                   class_name=hit.class_name, same_class=hit.correct)
        for hit in result.hits
    ]


def first_line(message: str, limit: int = 120) -> str:
    """First line of an error message, cut to fit the header."""
    line = (message.splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def query_text(result) -> str:
    name = Path(result.query_path or "").name or "query"
    cls = result.query_class
    return f"{name} · " + (cls if cls else "class unknown (image outside the dataset)") + f" · {result.source}"


def approximate_caption(result) -> str:
    """The grid caption's note for approximate results ("" for exact ones): cells scanned and the recall@k
    measured when the index was built, with the target recall the build chose nprobe for."""
    info = result.approximate
    if info is None:
        return ""
    value = info.recall_at(result.nprobe)
    recall = f"recall@{info.recall_k} {value:.3f} at build" if value is not None else "recall not measured"
    if value is not None and info.target_recall is not None and result.nprobe == info.nprobe:
        recall += f", target {info.target_recall:g}" + ("" if value >= info.target_recall else " NOT met")
    return f"APPROXIMATE results (IVF, {result.nprobe} of {info.nlist} cells scanned, {recall})"


def ap_text(stats) -> str:
    """The query's tie-averaged AP and P@k (the headline)."""
    if stats.average_precision is None or stats.precision_at_k is None:
        return "AP –   P@k –"
    return f"AP {100 * stats.average_precision:.1f}%   P@{stats.k} {100 * stats.precision_at_k:.1f}%"


def ap_tooltip(stats) -> str:
    """Both tie modes, so the grid's own count (ties by index) can be checked against the headline."""
    if stats.average_precision is None or stats.precision_at_k is None:
        return "the query's class is unknown: no AP"
    if stats.result.approximate is not None:  # AP and P@k describe the exact ranking, not the grid
        return (f"of the exact ranking, {TIES_AVERAGED_LABEL}: AP {100 * stats.average_precision:.2f}%, "
                f"P@{stats.k} {100 * stats.precision_at_k:.2f}%\n"
                f"the approximate grid as listed: P@{stats.k} {100 * stats.precision_at_k_index_order:.2f}%")
    return (f"{TIES_AVERAGED_LABEL}: AP {100 * stats.average_precision:.2f}%, "
            f"P@{stats.k} {100 * stats.precision_at_k:.2f}%\n"
            f"the grid as listed, {TIES_BY_INDEX_LABEL}: AP {100 * stats.average_precision_index_order:.2f}%, "
            f"P@{stats.k} {100 * stats.precision_at_k_index_order:.2f}%")

