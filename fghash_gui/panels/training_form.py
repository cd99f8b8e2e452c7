"""The training form: dataset (checked on the spot), method and ablations, model (weights checked on the spot),
schedule.

The form holds a preset and the user's edits on top of it; every value it shows and ``config()`` returns is
``training_checks.preset_plus_edits(preset, method, bits, kind, edits)``, recomputed whenever the preset, the
dataset kind, the method, the bits or an edit changes. Editing a value back to what the preset (with the other
edits) gives drops the edit;
"Reset to preset" drops them all. ``set_config(cfg)`` shows an existing config as its closest preset plus the
edits that give exactly it (resume, tests). The dataset and weights checks run on the request worker, debounced,
so typing a path never blocks the window.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget
from superqt.utils import qdebounced

from core.engine import PRESET_HELP, ConfigError, TrainConfig
from fghash_gui.panels.training_checks import (
    PENDING_ROOT,
    closest_preset,
    dataset_check,
    leaf_values,
    preset_plus_edits,
    weights_check,
)
from fghash_gui.panels.training_form_boxes import (
    DatasetBox,
    MethodBox,
    ModelBox,
    ScheduleBox,
    changed_signal,
    read_widget,
    set_combo_text,
    write_widget,
)
from fghash_gui.workers import RequestRunner

CHECK_DEBOUNCE_MS = 300
MAX_EDITS_LISTED = 6


class TrainingForm(QWidget):
    problems_changed = Signal()

    def __init__(self, requests: RequestRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.dataset_problems: list[str] = []
        self.weights_problem: str | None = None
        self.config_problem: str | None = None
        self.dataset_summary = ""
        self._filling = False
        self._preset = "paper"
        self._edits: dict[str, Any] = {}

        self.dataset_box, self.method_box = DatasetBox(), MethodBox()
        self.model_box, self.schedule_box = ModelBox(), ScheduleBox()
        layout = QVBoxLayout(self)
        for box in (self.dataset_box, self.method_box, self.model_box, self.schedule_box):
            layout.addWidget(box)
            self.__dict__.update({k: v for k, v in vars(box).items() if isinstance(v, QWidget)})  # form.kind_combo...
        layout.addStretch(1)
        self.use_none_button = QPushButton("Use weights “none”")
        self.use_none_button.setToolTip("train from random initialisation (or choose a weights file with File…)")
        self.use_none_button.setVisible(False)
        self.model_box.layout().addRow(self.use_none_button)
        self._bindings = dict(self.method_box.bindings + self.model_box.bindings + self.schedule_box.bindings)

        self._check_dataset_soon = qdebounced(self._check_dataset, timeout=CHECK_DEBOUNCE_MS, parent=self)
        self._check_weights_soon = qdebounced(self._check_weights, timeout=CHECK_DEBOUNCE_MS, parent=self)
        self.browse_button.clicked.connect(self._pick_folder)
        self.weights_button.clicked.connect(self._pick_weights)
        self.use_none_button.clicked.connect(lambda: self.weights_combo.setCurrentText("none"))
        self.reset_button.clicked.connect(self.reset_edits)
        self.kind_combo.currentTextChanged.connect(self._schedule_dataset_check)
        self.root_edit.textChanged.connect(self._schedule_dataset_check)
        self.allow_missing_check.toggled.connect(self._schedule_dataset_check)
        for widget in (self.kind_combo, self.method_combo, self.bits_combo, self.preset_combo):
            widget.currentIndexChanged.connect(self._on_choice_changed)
        for name, widget in self._bindings.items():
            changed_signal(widget).connect(lambda *_, name=name: self._on_edited(name))
        for widget in (self.backbone_combo, self.weights_combo):
            widget.currentTextChanged.connect(self._schedule_weights_check)

        self._refresh()
        self._schedule_dataset_check()
        self._schedule_weights_check()

    @property
    def problems(self) -> list[str]:
        """What stops Start: the dataset check's problems, then the weights check's, then a config refused."""
        return self.dataset_problems + [p for p in (self.weights_problem, self.config_problem) if p]

    @property
    def preset(self) -> str:
        return self._preset

    @property
    def edits(self) -> dict[str, Any]:
        """The user's edits on top of the preset: {dotted TrainConfig field: value} (a copy)."""
        return dict(self._edits)

    # --- config <-> widgets -----------------------------------------------------------------------

    def config(self) -> TrainConfig:
        """The preset plus the edits as a validated TrainConfig; raises ConfigError naming the bad field."""
        if self.milestones_edit.isModified():  # a milestones text still being typed counts
            self._on_edited("lr_milestones")
        if self.config_problem:
            raise ConfigError(self.config_problem)
        return preset_plus_edits(*self._choices(), self._edits, self.root_edit.text().strip() or None,
                                 self.allow_missing_check.isChecked())

    def set_config(self, cfg: TrainConfig) -> None:
        """Show a config: its closest preset and the edits that give exactly `cfg`."""
        preset, edits = closest_preset(cfg)
        self._filling = True
        try:
            set_combo_text(self.kind_combo, cfg.dataset_kind)
            self.root_edit.setText(cfg.dataset_root or "")
            self.allow_missing_check.setChecked(cfg.allow_missing)
            self.method_combo.setCurrentIndex(max(self.method_combo.findData(cfg.method), 0))
            if self.bits_combo.findData(cfg.bits) < 0:
                self.bits_combo.addItem(str(cfg.bits), cfg.bits)
            self.bits_combo.setCurrentIndex(self.bits_combo.findData(cfg.bits))
            set_combo_text(self.preset_combo, preset)
        finally:
            self._filling = False
        self._preset, self._edits = preset, edits
        self._refresh()

    @Slot()
    def reset_edits(self) -> None:
        """Drop every edit: the form shows exactly the preset."""
        self._edits.clear()
        self._refresh()

    def _choices(self) -> tuple[str, str, int, str]:
        return (self._preset, self.method_combo.currentData(), int(self.bits_combo.currentData()),
                self.kind_combo.currentText())

    def _shown_root(self) -> str | None:
        root = self.root_edit.text().strip() or None
        return root if root or self.kind_combo.currentText() == "demo" else PENDING_ROOT

    def _refresh(self) -> None:
        """Recompute preset + edits and show it; a config the preset and edits cannot give is a problem."""
        self.method_box.fcae_row.setEnabled(self.method_combo.currentData() == "fcaenet")
        self.method_box.multifus_row.setEnabled(self.method_combo.currentData() == "multifusnet")
        try:
            cfg = preset_plus_edits(*self._choices(), self._edits, self._shown_root())
        except ConfigError as exc:
            self.config_problem = str(exc)
            self.preset_note.setText(str(exc))
            self.preset_note.setObjectName("problems")
        else:
            self.config_problem = None
            self.preset_note.setText(PRESET_HELP[self._preset])
            self.preset_note.setObjectName("")
            self._show(cfg)
        _repolish(self.preset_note)
        self.edits_label.setText(_describe_edits(self._edits))
        self.reset_button.setEnabled(bool(self._edits))
        self.problems_changed.emit()

    def _show(self, cfg: TrainConfig) -> None:
        values = leaf_values(cfg)
        self._filling = True
        try:
            for name, widget in self._bindings.items():
                write_widget(widget, values[name])
        finally:
            self._filling = False

    # --- reactions --------------------------------------------------------------------------------

    @Slot()
    def _on_choice_changed(self) -> None:
        if not self._filling:
            self._preset = self.preset_combo.currentText()
            self._refresh()

    def _on_edited(self, name: str) -> None:
        if self._filling:
            return
        value = read_widget(self._bindings[name])
        if name == "lr_milestones":
            try:
                value = tuple(int(p) for p in value.replace(";", ",").split(",") if p.strip())
            except ValueError:
                self.config_problem = f"LR milestones must be whole numbers separated by commas; got {value!r}"
                self.problems_changed.emit()
                return
            self.milestones_edit.setModified(False)
        elif name == "weights":
            value = value or "none"
        others = {k: v for k, v in self._edits.items() if k != name}
        try:  # a value the preset and the other edits give by themselves is no edit
            redundant = leaf_values(preset_plus_edits(*self._choices(), others, self._shown_root()))[name] == value
        except ConfigError:
            redundant = False
        self._edits = others if redundant else {**others, name: value}
        self._refresh()

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.root_edit.text())
        if folder:
            self.root_edit.setText(folder)

    def _pick_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Backbone weights", "", "Weights (*.pth *.pt *.safetensors)")
        if path:
            self.weights_combo.setCurrentText(path)

    # --- dataset and weights checks ---------------------------------------------------------------

    @Slot()
    def _schedule_dataset_check(self) -> None:
        _show_verdict(self.check_label, "checking…", "")
        self._check_dataset_soon()

    @Slot()
    def _check_dataset(self) -> None:
        args = (self.kind_combo.currentText(), self.root_edit.text().strip() or None,
                self.allow_missing_check.isChecked())
        self._run_check("dataset-check", dataset_check, args, self._show_dataset_check,
                        lambda message: self._show_dataset_check(([message], "")))

    def _show_dataset_check(self, outcome: tuple[list[str], str]) -> None:
        problems, summary = outcome
        self.dataset_problems = list(problems)
        self.dataset_summary = summary
        if problems:
            shown = problems[:8] + ([f"… and {len(problems) - 8} more"] if len(problems) > 8 else [])
            _show_verdict(self.check_label, "\n".join(f"• {p}" for p in shown), "problems")
        else:
            _show_verdict(self.check_label, f"✓ {summary}" if summary else "✓ dataset looks fine", "ok")
        self.problems_changed.emit()

    @Slot()
    def _schedule_weights_check(self) -> None:
        _show_verdict(self.weights_label, "checking weights…", "")
        self._check_weights_soon()

    @Slot()
    def _check_weights(self) -> None:
        args = (self.backbone_combo.currentText(), self.weights_combo.currentText().strip() or "none")
        self._run_check("weights-check", weights_check, args, self._show_weights_check, self._show_weights_check)

    def _show_weights_check(self, problem: str | None) -> None:
        self.weights_problem = problem
        weights = self.weights_combo.currentText().strip() or "none"
        ok = "✓ random initialisation" if weights == "none" else f"✓ {weights} weights available"
        _show_verdict(self.weights_label, f"• {problem}" if problem else ok, "problems" if problem else "ok")
        self.use_none_button.setVisible(bool(problem))
        self.problems_changed.emit()

    def _run_check(self, channel: str, fn, args: tuple, on_result, on_error) -> None:
        if self._requests is None:
            on_result(fn(*args))
        else:
            self._requests.submit(channel, fn, *args, on_result=on_result, on_error=on_error)


def _describe_edits(edits: dict[str, Any]) -> str:
    if not edits:
        return "exactly the preset"
    shown = [f"{name} = {_short(value)}" for name, value in list(edits.items())[:MAX_EDITS_LISTED]]
    more = f", and {len(edits) - MAX_EDITS_LISTED} more" if len(edits) > MAX_EDITS_LISTED else ""
    return f"edited: {', '.join(shown)}{more}"


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show_verdict(label: QLabel, text: str, state: str) -> None:
    label.setText(text)
    label.setObjectName(state)  # the style sheet colours "problems" and "ok"
    _repolish(label)


def _repolish(label: QLabel) -> None:
    label.style().unpolish(label)
    label.style().polish(label)
