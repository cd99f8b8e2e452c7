"""The Train form's four boxes (dataset, method, model, schedule): widgets and layout only.

Each box lists in ``bindings`` the TrainConfig fields its widgets edit, as (dotted field name, widget); the form
(training_form.py) reads and writes them through ``read_widget`` / ``write_widget`` and owns the logic.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from core import engine
from core.engine import BACKBONES, DEVICES, PRESET_HELP, PRESETS

BITS_CHOICES = (12, 24, 32, 48, 64)


class DatasetBox(QGroupBox):
    """Kind, folder (with Browse…), the allow-missing switch and the live check's verdict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Dataset", parent)
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(list(engine.DATASET_KINDS))
        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("dataset folder (not needed for demo)")
        self.browse_button = QPushButton("Browse…")
        self.check_label = _wrapping_label()
        self.allow_missing_check = QCheckBox("Train on the images present (allow missing)")
        self.allow_missing_check.setToolTip("a partial download: load the listed images that exist and skip "
                                            "the absent ones (the check above shows the counts)")
        form = QFormLayout(self)
        form.addRow("Kind", self.kind_combo)
        form.addRow("Folder", _row(self.root_edit, self.browse_button))
        form.addRow(self.allow_missing_check)
        form.addRow(self.check_label)
        self.bindings: list[tuple[str, QWidget]] = []


class MethodBox(QGroupBox):
    """Method, its ablation switches (only the chosen method's are enabled) and the code length."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Method", parent)
        self.method_combo = QComboBox()
        for method in engine.method_names():  # the method registry: every registered method, with its label
            info = engine.method_info(method)
            self.method_combo.addItem(info.label, method)
            self.method_combo.setItemData(self.method_combo.count() - 1, f"{info.paper}; database: {info.database_note}",
                                          Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setCurrentIndex(max(self.method_combo.findData("fcaenet"), 0))  # the papers' method
        self.srem_check = QCheckBox("SREM (erased view)")
        self.esrl_check = QCheckBox("ESRL (positive pairs)")
        self.cascade_check = QCheckBox("cascade")
        self.fusion_check = QCheckBox("ECA fusion")
        self.attention_check = QCheckBox("attention")
        self.fcae_row = _row(self.srem_check, self.esrl_check, stretch_first=False)
        self.multifus_row = _row(self.cascade_check, self.fusion_check, self.attention_check, stretch_first=False)
        self.bits_combo = QComboBox()
        for bits in BITS_CHOICES:
            self.bits_combo.addItem(str(bits), bits)
        form = QFormLayout(self)
        form.addRow("Method", self.method_combo)
        form.addRow("FCAENet parts", self.fcae_row)
        form.addRow("Multi-FusNet parts", self.multifus_row)
        form.addRow("Bits", self.bits_combo)
        self.bindings = [("fcae.use_srem", self.srem_check), ("fcae.use_esrl", self.esrl_check),
                         ("multifus.use_cascade", self.cascade_check), ("multifus.use_fusion", self.fusion_check),
                         ("multifus.use_attention", self.attention_check)]


class ModelBox(QGroupBox):
    """Backbone, weights (with File… and the live weights check), image size and device."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.backbone_combo = QComboBox()
        self.backbone_combo.addItems(list(BACKBONES))
        self.weights_combo = QComboBox()
        self.weights_combo.setEditable(True)
        self.weights_combo.addItems(["imagenet", "none"])
        self.weights_button = QPushButton("File…")
        self.weights_label = _wrapping_label()
        self.image_size_spin = QSpinBox()
        self.image_size_spin.setRange(16, 1024)
        self.image_size_spin.setSingleStep(16)
        self.image_size_spin.setSuffix(" px")
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        form = QFormLayout(self)
        form.addRow("Backbone", self.backbone_combo)
        form.addRow("Weights", _row(self.weights_combo, self.weights_button))
        form.addRow(self.weights_label)
        form.addRow("Image size", self.image_size_spin)
        form.addRow("Device", self.device_combo)
        self.bindings = [("backbone", self.backbone_combo), ("weights", self.weights_combo),
                         ("image_size", self.image_size_spin), ("device", self.device_combo)]


class ScheduleBox(QGroupBox):
    """The preset, what was edited on top of it (with a reset), and the advanced hyper-parameters."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Schedule", parent)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        for i, name in enumerate(PRESETS):
            self.preset_combo.setItemData(i, PRESET_HELP[name], Qt.ItemDataRole.ToolTipRole)
        self.preset_note = _wrapping_label()
        self.edits_label = _wrapping_label()
        self.reset_button = QPushButton("Reset to preset")
        self.reset_button.setToolTip("drop every edit: the form shows exactly the preset again")
        spins = dict(
            epochs=_int_spin(1, 10_000), batch_size=_int_spin(1, 4096), lr=_float_spin(1e-6, 10.0, 6),
            momentum=_float_spin(0.0, 0.999, 3), weight_decay=_float_spin(0.0, 1.0, 6), eval_every=_int_spin(1, 1000),
            resize_size=_int_spin(16, 2048, " px"), seed=_int_spin(0, 2**31 - 1),
        )
        self.milestones_edit = QLineEdit()
        self.milestones_edit.setPlaceholderText("e.g. 20, 30")
        nested = {"adsh.num_samples": _int_spin(1, 1_000_000), "adsh.inner_epochs": _int_spin(1, 1000),
                  "adsh.gamma": _float_spin(0.0, 1e5, 2), "fcae.alpha": _float_spin(0.0, 1e3, 3),
                  "fcae.beta": _float_spin(0.0, 1e3, 3), "fcae.srem_regions": _int_spin(0, 10_000),
                  "fcae.srem_size": _int_spin(1, 1024, " px"), "multifus.label_smoothing": _float_spin(0.0, 0.99, 3)}
        # model selection on a validation split taken out of training (core/training/validation.py); never on test
        self.validation_combo = QComboBox()
        self.validation_combo.addItems(["none", "official", "fraction"])
        self.validation_combo.setToolTip("none: report the final model on the test split; official: also pick the "
                                         "epoch best on the dataset's validation list (flowers, aircraft, vegfru); "
                                         "fraction: on a stratified fraction of the training split")
        self.val_fraction_spin = _float_spin(0.01, 0.9, 2)
        labels = {"epochs": "Epochs / outer iterations", "batch_size": "Batch size", "lr": "Learning rate",
                  "momentum": "Momentum", "weight_decay": "Weight decay", "lr_milestones": "LR milestones",
                  "eval_every": "Evaluate every", "resize_size": "Eval resize", "seed": "Seed",
                  "adsh.num_samples": "ADSH samples m", "adsh.inner_epochs": "ADSH inner epochs",
                  "adsh.gamma": "ADSH γ", "fcae.alpha": "ESRL α (reconstructed)", "fcae.beta": "ESRL β (reconstructed)",
                  "fcae.srem_regions": "SREM regions N", "fcae.srem_size": "SREM square s",
                  "multifus.label_smoothing": "Label smoothing", "validation": "Select on validation",
                  "val_fraction": "Validation fraction"}
        self.bindings = [*spins.items(), ("lr_milestones", self.milestones_edit), *nested.items(),
                         ("validation", self.validation_combo), ("val_fraction", self.val_fraction_spin)]
        self.bindings.sort(key=lambda item: list(labels).index(item[0]))
        self.widgets = dict(self.bindings)  # by field name
        for name, spin in spins.items():
            setattr(self, f"{name}_spin", spin)  # epochs_spin, lr_spin, ...: the form's (and tests') names
        advanced = QWidget()
        adv = QFormLayout(advanced)
        for name, widget in self.bindings:
            adv.addRow(labels[name], widget)
        self.advanced = QCollapsible("Advanced hyper-parameters")
        self.advanced.addWidget(advanced)
        layout = QVBoxLayout(self)
        preset_row = QFormLayout()
        preset_row.addRow("Preset", _row(self.preset_combo, self.reset_button))
        preset_row.addRow(self.preset_note)
        preset_row.addRow(self.edits_label)
        layout.addLayout(preset_row)
        layout.addWidget(self.advanced)


def read_widget(widget: QWidget) -> Any:
    """A bound widget's value in TrainConfig's types (the milestones edit: its raw text)."""
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    if isinstance(widget, QComboBox):
        return widget.currentText().strip()
    if isinstance(widget, QLineEdit):
        return widget.text()
    raise TypeError(f"no reader for {type(widget).__name__}")


def write_widget(widget: QWidget, value: Any) -> None:
    """Show a TrainConfig value in a bound widget (a tuple of milestones as "20, 30")."""
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setValue(value)
    elif isinstance(widget, QComboBox) and widget.isEditable():
        if widget.currentText() != str(value):  # (re)setting the text would move the cursor of a user typing
            widget.setCurrentText(str(value))
    elif isinstance(widget, QComboBox):
        set_combo_text(widget, str(value))
    elif isinstance(widget, QLineEdit):
        text = ", ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
        if widget.text() != text:
            widget.setText(text)


def changed_signal(widget: QWidget):
    """The signal a user's edit of a bound widget emits."""
    if isinstance(widget, QCheckBox):
        return widget.toggled
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.valueChanged
    if isinstance(widget, QComboBox):
        return widget.currentTextChanged
    return widget.editingFinished  # a line edit: when the text is complete, not at every keystroke


def set_combo_text(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    if index < 0:
        combo.addItem(text)
        index = combo.findText(text)
    combo.setCurrentIndex(index)


def _row(*widgets: QWidget, stretch_first: bool = True) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if (i == 0 and stretch_first) else 0)
    return row


def _wrapping_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    return label


def _int_spin(low: int, high: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    return spin


def _float_spin(low: float, high: float, decimals: int) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(10 ** -decimals * 10 if decimals > 2 else 0.1)
    return spin
