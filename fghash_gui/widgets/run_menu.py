"""One way to fill a run menu (Browse's run and comparison menus, Classes' and Explain's comparison menus)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox


def fill_run_menu(combo: QComboBox, records: Iterable, current: str | None, *, none_item: bool = False,
                  exclude: str | None = None, with_status: bool = False) -> None:
    """Replace the menu's items with one per run record ("method · dataset · bits · id tail", the full run id
    on hover and as the item's data), without emitting change signals; select `current` (else the first item).
    none_item: a first "(none)" item whose data is None; exclude: a run id left out (the run itself)."""
    combo.blockSignals(True)
    combo.clear()
    if none_item:
        combo.addItem("(none)", None)
    for r in records:
        if r.run_id == exclude:
            continue
        text = f"{r.method} · {r.dataset_kind} · {r.bits}b · {r.run_id[-4:]}" + (f" ({r.status})" if with_status else "")
        combo.addItem(text, r.run_id)
        combo.setItemData(combo.count() - 1, r.run_id, Qt.ItemDataRole.ToolTipRole)
    combo.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
    combo.setCurrentIndex(max(combo.findData(current), 0))
    combo.blockSignals(False)
