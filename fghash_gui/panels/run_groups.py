"""The Runs tab's "group seeds" view: one row per set of finished runs that differ only in their seed.

Grouping is core.evaluation.seed_groups.group_by_seed (the same as `fghash eval`); each row shows mAP@all as mean ± sample
standard deviation (ddof=1) over the group's runs, and n.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from core.engine import ConfigError, MeanStd, RunRecord, SeedGroup, TrainConfig, group_by_seed, mean_std

GROUP_COLUMNS = ("method", "dataset", "variant", "bits", "seeds", "mAP@all", "by index")
RUN_IDS_ROLE = Qt.ItemDataRole.UserRole  # a row's run ids (tuple), as the flat table gives one run id
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the proxy sorts both tables by this role


def seed_group_rows(records: list[RunRecord], index_order: dict[str, float],
                    ) -> list[tuple[SeedGroup, MeanStd, MeanStd | None]]:
    """(group, mAP@all over its runs, ties-by-index mAP@all or None when a run lacks it) for finished runs."""
    finished = {r.run_id: r for r in records if r.status == "finished" and r.final_map is not None}
    configs = []
    for run_id, record in finished.items():
        try:
            configs.append((run_id, TrainConfig.from_json(record.config_json)))
        except ConfigError:
            continue  # a run written by another fghash version: listed in the flat table only
    rows = []
    for group in group_by_seed(configs):
        headline = mean_std(finished[run_id].final_map for run_id in group.run_ids)
        by_index = (mean_std(index_order[run_id] for run_id in group.run_ids)
                    if all(run_id in index_order for run_id in group.run_ids) else None)
        rows.append((group, headline, by_index))
    return rows


class SeedGroupTableModel(QAbstractTableModel):
    """Rows = seed groups of finished runs; values in percent."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[SeedGroup, MeanStd, MeanStd | None]] = []

    def set_records(self, records: list[RunRecord], index_order: dict[str, float]) -> None:
        self.beginResetModel()
        self.rows = seed_group_rows(records, index_order)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(GROUP_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return GROUP_COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return "mean ± sample standard deviation (ddof=1) over the group's runs, (n) runs"
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        group, headline, by_index = self.rows[index.row()]
        column = GROUP_COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {"method": group.method, "dataset": group.dataset_kind, "variant": group.variant or "—",
                    "bits": str(group.bits), "seeds": ",".join(map(str, group.seeds)),
                    "mAP@all": headline.format(100), "by index": by_index.format(100) if by_index else "–"}[column]
        if role == SORT_ROLE:
            if column == "mAP@all":
                return headline.mean
            if column == "by index":
                return by_index.mean if by_index else -1.0
            return group.bits if column == "bits" else self.data(index)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(group.run_ids)
        if role == RUN_IDS_ROLE:
            return group.run_ids
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("bits", "mAP@all", "by index"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
