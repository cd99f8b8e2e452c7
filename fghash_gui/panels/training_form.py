"""The training form: dataset (checked on the spot), method and ablations, model, schedule, device.

``TrainingForm.config()`` turns the widgets into a validated ``core.config.train_config.TrainConfig``;
``set_config(cfg)`` shows an existing one (resume, tests). The dataset check runs on the request worker,
debounced, so typing a path never blocks the window.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
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
from core.config.train_config import BACKBONES, DEVICES, METHODS, SEMICON_FAMILY, TrainConfig, paper_preset
from core.base.errors import ConfigError
from core.config.presets import BASELINE_GROUPS, PRESET_HELP, PRESETS, preset_config
from fghash_gui.panels.training_checks import dataset_check, matching_preset
from fghash_gui.workers import RequestRunner

FORM_PRESETS = PRESETS + ("custom",)  # core's presets, plus "custom" once a value is edited
CHECK_DEBOUNCE_MS = 300


class TrainingForm(QWidget):
    problems_changed = Signal()

    def __init__(self, requests: RequestRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.problems: list[str] = []
        self.dataset_summary = ""
        self._filling = False

        # Dataset -----------------------------------------------------------------------------------
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(list(engine.DATASET_KINDS))
        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("dataset folder (not needed for demo)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._pick_folder)
        root_row = QHBoxLayout()
        root_row.addWidget(self.root_edit, 1)
        root_row.addWidget(browse)
        self.check_label = QLabel("")
        self.check_label.setWordWrap(True)
        self.allow_missing_check = QCheckBox("Train on the images present (allow missing)")
        self.allow_missing_check.setToolTip("a partial download: load the listed images that exist and skip "
                                            "the absent ones (the check above shows the counts)")
        dataset_box = QGroupBox("Dataset")
        dataset_form = QFormLayout(dataset_box)
        dataset_form.addRow("Kind", self.kind_combo)
        dataset_form.addRow("Folder", root_row)
        dataset_form.addRow(self.allow_missing_check)
        dataset_form.addRow(self.check_label)

        # Method ------------------------------------------------------------------------------------
        self.method_combo = QComboBox()
        for method in engine.method_names():  # the method registry: every registered method, with its label
            info = engine.method_info(method)
            self.method_combo.addItem(info.label, method)
            self.method_combo.setItemData(self.method_combo.count() - 1, f"{info.paper}; database: {info.database_note}",
                                          Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setCurrentIndex(max(self.method_combo.findData("fcaenet"), 0))
        self.srem_check = QCheckBox("SREM (erased view)")
        self.esrl_check = QCheckBox("ESRL (positive pairs)")
        self.cascade_check = QCheckBox("cascade")
        self.fusion_check = QCheckBox("ECA fusion")
        self.attention_check = QCheckBox("attention")
        for box in (self.srem_check, self.esrl_check, self.cascade_check, self.fusion_check, self.attention_check):
            box.setChecked(True)
        self.fcae_row = QWidget()
        fcae_layout = QHBoxLayout(self.fcae_row)
        fcae_layout.setContentsMargins(0, 0, 0, 0)
        fcae_layout.addWidget(self.srem_check)
        fcae_layout.addWidget(self.esrl_check)
        self.multifus_row = QWidget()
        mf_layout = QHBoxLayout(self.multifus_row)
        mf_layout.setContentsMargins(0, 0, 0, 0)
        for box in (self.cascade_check, self.fusion_check, self.attention_check):
            mf_layout.addWidget(box)
        self.bits_combo = QComboBox()
        for bits in (12, 24, 32, 48, 64):
            self.bits_combo.addItem(str(bits), bits)
        method_box = QGroupBox("Method")
        method_form = QFormLayout(method_box)
        method_form.addRow("Method", self.method_combo)
        method_form.addRow("FCAENet parts", self.fcae_row)
        method_form.addRow("Multi-FusNet parts", self.multifus_row)
        method_form.addRow("Bits", self.bits_combo)

        # Model -------------------------------------------------------------------------------------
        self.backbone_combo = QComboBox()
        self.backbone_combo.addItems(list(BACKBONES))
        self.weights_combo = QComboBox()
        self.weights_combo.setEditable(True)
        self.weights_combo.addItems(["imagenet", "none"])
        weights_button = QPushButton("File…")
        weights_button.clicked.connect(self._pick_weights)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights_combo, 1)
        weights_row.addWidget(weights_button)
        self.image_size_spin = QSpinBox()
        self.image_size_spin.setRange(16, 1024)
        self.image_size_spin.setSingleStep(16)
        self.image_size_spin.setSuffix(" px")
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        model_form.addRow("Backbone", self.backbone_combo)
        model_form.addRow("Weights", weights_row)
        model_form.addRow("Image size", self.image_size_spin)
        model_form.addRow("Device", self.device_combo)

        # Schedule ----------------------------------------------------------------------------------
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(FORM_PRESETS))
        for i, name in enumerate(PRESETS):
            self.preset_combo.setItemData(i, PRESET_HELP[name], Qt.ItemDataRole.ToolTipRole)
        self.preset_note = QLabel("")
        self.preset_note.setWordWrap(True)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10_000)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.lr_spin = _float_spin(1e-6, 10.0, 6)
        self.momentum_spin = _float_spin(0.0, 0.999, 3)
        self.wd_spin = _float_spin(0.0, 1.0, 6)
        self.milestones_edit = QLineEdit()
        self.milestones_edit.setPlaceholderText("e.g. 20, 30")
        self.eval_every_spin = QSpinBox()
        self.eval_every_spin.setRange(1, 1000)
        self.resize_spin = QSpinBox()
        self.resize_spin.setRange(16, 2048)
        self.resize_spin.setSuffix(" px")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(1, 1_000_000)
        self.inner_spin = QSpinBox()
        self.inner_spin.setRange(1, 1000)
        self.gamma_spin = _float_spin(0.0, 1e5, 2)
        self.alpha_spin = _float_spin(0.0, 1e3, 3)
        self.beta_spin = _float_spin(0.0, 1e3, 3)
        self.regions_spin = QSpinBox()
        self.regions_spin.setRange(0, 10_000)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 1024)
        self.smoothing_spin = _float_spin(0.0, 0.99, 3)
        # model selection on a validation split taken out of training (core/training/validation.py); never on test
        self.validation_combo = QComboBox()
        self.validation_combo.addItems(["none", "official", "fraction"])
        self.validation_combo.setToolTip("none: report the final model on the test split; official: also pick the "
                                         "epoch best on the dataset's validation list (flowers, aircraft, vegfru); "
                                         "fraction: on a stratified fraction of the training split")
        self.val_fraction_spin = _float_spin(0.01, 0.9, 2)
        advanced = QWidget()
        adv = QFormLayout(advanced)
        adv.addRow("Epochs / outer iterations", self.epochs_spin)
        adv.addRow("Batch size", self.batch_spin)
        adv.addRow("Learning rate", self.lr_spin)
        adv.addRow("Momentum", self.momentum_spin)
        adv.addRow("Weight decay", self.wd_spin)
        adv.addRow("LR milestones", self.milestones_edit)
        adv.addRow("Evaluate every", self.eval_every_spin)
        adv.addRow("Eval resize", self.resize_spin)
        adv.addRow("Seed", self.seed_spin)
        adv.addRow("ADSH samples m", self.samples_spin)
        adv.addRow("ADSH inner epochs", self.inner_spin)
        adv.addRow("ADSH γ", self.gamma_spin)
        adv.addRow("ESRL α (reconstructed)", self.alpha_spin)
        adv.addRow("ESRL β (reconstructed)", self.beta_spin)
        adv.addRow("SREM regions N", self.regions_spin)
        adv.addRow("SREM square s", self.size_spin)
        adv.addRow("Label smoothing", self.smoothing_spin)
        adv.addRow("Select on validation", self.validation_combo)
        adv.addRow("Validation fraction", self.val_fraction_spin)
        self.advanced = QCollapsible("Advanced hyper-parameters")
        self.advanced.addWidget(advanced)
        schedule_box = QGroupBox("Schedule")
        schedule_layout = QVBoxLayout(schedule_box)
        preset_row = QFormLayout()
        preset_row.addRow("Preset", self.preset_combo)
        preset_row.addRow(self.preset_note)
        schedule_layout.addLayout(preset_row)
        schedule_layout.addWidget(self.advanced)

        layout = QVBoxLayout(self)
        for box in (dataset_box, method_box, model_box, schedule_box):
            layout.addWidget(box)
        layout.addStretch(1)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DEBOUNCE_MS)
        self._check_timer.timeout.connect(self._check_dataset)
        self.kind_combo.currentIndexChanged.connect(self._schedule_check)
        self.root_edit.textChanged.connect(self._schedule_check)
        self.allow_missing_check.toggled.connect(self._schedule_check)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        self.bits_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.image_size_spin.valueChanged.connect(self._on_image_size_changed)
        for spin_type in (QSpinBox, QDoubleSpinBox):
            for widget in advanced.findChildren(spin_type):
                widget.valueChanged.connect(self._mark_custom)
        self.milestones_edit.textEdited.connect(self._mark_custom)

        self.set_config(preset_config("paper", "fcaenet", 12))
        self._schedule_check()

    # --- config <-> widgets -----------------------------------------------------------------------

    def config(self) -> TrainConfig:
        """The form as a validated TrainConfig; raises ConfigError naming the bad field."""
        try:
            milestones = tuple(int(p) for p in self.milestones_edit.text().replace(";", ",").split(",") if p.strip())
        except ValueError:
            raise ConfigError(f"LR milestones must be whole numbers separated by commas; got "
                              f"{self.milestones_edit.text()!r}") from None
        method = self.method_combo.currentData()
        # what the form does not show (Nesterov, V's start, the baselines' own options) from the method's protocol
        base = paper_preset(method, int(self.bits_combo.currentData())) if method in SEMICON_FAMILY else TrainConfig()
        return TrainConfig(
            dataset_kind=self.kind_combo.currentText(),
            dataset_root=self.root_edit.text().strip() or None,
            allow_missing=self.allow_missing_check.isChecked(),
            method=method,
            bits=int(self.bits_combo.currentData()),
            backbone=self.backbone_combo.currentText(),
            weights=self.weights_combo.currentText().strip() or "none",
            image_size=self.image_size_spin.value(),
            resize_size=self.resize_spin.value(),
            device=self.device_combo.currentText(),
            seed=self.seed_spin.value(),
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            momentum=self.momentum_spin.value(),
            nesterov=base.nesterov and self.momentum_spin.value() > 0,
            weight_decay=self.wd_spin.value(),
            lr_milestones=milestones,
            eval_every=self.eval_every_spin.value(),
            validation=self.validation_combo.currentText(),
            val_fraction=self.val_fraction_spin.value(),
            adsh=dataclasses.replace(base.adsh, num_samples=self.samples_spin.value(),
                                     inner_epochs=self.inner_spin.value(), gamma=self.gamma_spin.value()),
            fcae=dataclasses.replace(base.fcae, use_srem=self.srem_check.isChecked(),
                                     use_esrl=self.esrl_check.isChecked(), alpha=self.alpha_spin.value(),
                                     beta=self.beta_spin.value(), srem_regions=self.regions_spin.value(),
                                     srem_size=self.size_spin.value()),
            multifus=dataclasses.replace(base.multifus, use_cascade=self.cascade_check.isChecked(),
                                         use_fusion=self.fusion_check.isChecked(),
                                         use_attention=self.attention_check.isChecked(),
                                         label_smoothing=self.smoothing_spin.value()),
            **getattr(self, "_baseline_groups", {}),
            **{block: getattr(base, block) for block in SEMICON_FAMILY},
        )

    def set_config(self, cfg: TrainConfig) -> None:
        """Show a config in the widgets (the preset is the first of core's presets that it matches, else
        "custom")."""
        self._filling = True
        try:
            _set_combo_text(self.kind_combo, cfg.dataset_kind)
            self.root_edit.setText(cfg.dataset_root or "")
            self.allow_missing_check.setChecked(cfg.allow_missing)
            self.method_combo.setCurrentIndex(max(self.method_combo.findData(cfg.method), 0))
            if self.bits_combo.findData(cfg.bits) < 0:
                self.bits_combo.addItem(str(cfg.bits), cfg.bits)
            self.bits_combo.setCurrentIndex(self.bits_combo.findData(cfg.bits))
            _set_combo_text(self.backbone_combo, cfg.backbone)
            self.weights_combo.setCurrentText(cfg.weights)
            self.image_size_spin.setValue(cfg.image_size)
            _set_combo_text(self.device_combo, cfg.device)
            self._fill_schedule(cfg)
            self.srem_check.setChecked(cfg.fcae.use_srem)
            self.esrl_check.setChecked(cfg.fcae.use_esrl)
            self.cascade_check.setChecked(cfg.multifus.use_cascade)
            self.fusion_check.setChecked(cfg.multifus.use_fusion)
            self.attention_check.setChecked(cfg.multifus.use_attention)
            self.preset_combo.setCurrentText(matching_preset(cfg))
        finally:
            self._filling = False
        self._update_method_rows()

    def _fill_schedule(self, cfg: TrainConfig) -> None:
        # the baselines' option groups have no widgets: config() keeps the preset's (e.g. quick HashNet epochs)
        self._baseline_groups = {group: getattr(cfg, group) for group in BASELINE_GROUPS}
        was = self._filling
        self._filling = True
        try:
            self.epochs_spin.setValue(cfg.epochs)
            self.batch_spin.setValue(cfg.batch_size)
            self.lr_spin.setValue(cfg.lr)
            self.momentum_spin.setValue(cfg.momentum)
            self.wd_spin.setValue(cfg.weight_decay)
            self.milestones_edit.setText(", ".join(str(m) for m in cfg.lr_milestones))
            self.eval_every_spin.setValue(cfg.eval_every)
            self.image_size_spin.setValue(cfg.image_size)
            self.resize_spin.setValue(cfg.resize_size)
            _set_combo_text(self.backbone_combo, cfg.backbone)
            self.seed_spin.setValue(cfg.seed)
            _set_combo_text(self.validation_combo, cfg.validation)
            self.val_fraction_spin.setValue(cfg.val_fraction)
            self.samples_spin.setValue(cfg.adsh.num_samples)
            self.inner_spin.setValue(cfg.adsh.inner_epochs)
            self.gamma_spin.setValue(cfg.adsh.gamma)
            self.alpha_spin.setValue(cfg.fcae.alpha)
            self.beta_spin.setValue(cfg.fcae.beta)
            self.regions_spin.setValue(cfg.fcae.srem_regions)
            self.size_spin.setValue(cfg.fcae.srem_size)
            self.smoothing_spin.setValue(cfg.multifus.label_smoothing)
        finally:
            self._filling = was

    # --- reactions --------------------------------------------------------------------------------

    @Slot()
    def _on_method_changed(self) -> None:
        self._update_method_rows()
        self._on_preset_changed()

    def _update_method_rows(self) -> None:
        method = self.method_combo.currentData()
        self.fcae_row.setEnabled(method == "fcaenet")
        self.multifus_row.setEnabled(method == "multifusnet")

    @Slot()
    def _on_preset_changed(self) -> None:
        if self._filling:
            return
        preset = self.preset_combo.currentText()
        if preset == "custom":
            self.preset_note.setText("")
            return
        method, bits = self.method_combo.currentData(), int(self.bits_combo.currentData())
        try:
            cfg = preset_config(preset, method, bits, self.kind_combo.currentText())
        except ConfigError as exc:  # "code" is for Multi-FusNet only
            self.preset_note.setText(str(exc))
            return
        self.preset_note.setText(PRESET_HELP[preset])
        self._fill_schedule(cfg)

    @Slot()
    def _mark_custom(self) -> None:
        if not self._filling and self.preset_combo.currentText() != "custom":
            self._filling = True
            self.preset_combo.setCurrentText("custom")
            self._filling = False

    @Slot(int)
    def _on_image_size_changed(self, size: int) -> None:
        if not self._filling:
            # Keep the usual 256/224 resize-to-crop ratio of the evaluation transform.
            self.resize_spin.setValue(max(size, round(size * 256 / 224)))

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.root_edit.text())
        if folder:
            self.root_edit.setText(folder)

    def _pick_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Backbone weights", "", "Weights (*.pth *.pt *.safetensors)")
        if path:
            self.weights_combo.setCurrentText(path)

    # --- dataset check ----------------------------------------------------------------------------

    @Slot()
    def _schedule_check(self) -> None:
        self.check_label.setText("checking…")
        self.check_label.setObjectName("")
        self._check_timer.start()

    @Slot()
    def _check_dataset(self) -> None:
        kind = self.kind_combo.currentText()
        root = self.root_edit.text().strip() or None
        allow_missing = self.allow_missing_check.isChecked()
        if self._requests is None:
            self._show_check(dataset_check(kind, root, allow_missing))
        else:
            self._requests.submit("dataset-check", dataset_check, kind, root, allow_missing, on_result=self._show_check,
                                  on_error=lambda message: self._show_check(([message], "")))

    def _show_check(self, outcome: tuple[list[str], str]) -> None:
        problems, summary = outcome
        self.problems = list(problems)
        self.dataset_summary = summary
        if problems:
            shown = problems[:8] + ([f"… and {len(problems) - 8} more"] if len(problems) > 8 else [])
            self.check_label.setText("\n".join(f"• {p}" for p in shown))
            self.check_label.setObjectName("problems")
        else:
            self.check_label.setText(f"✓ {summary}" if summary else "✓ dataset looks fine")
            self.check_label.setObjectName("ok")
        self.check_label.style().unpolish(self.check_label)
        self.check_label.style().polish(self.check_label)
        self.problems_changed.emit()


def _float_spin(low: float, high: float, decimals: int) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(10 ** -decimals * 10 if decimals > 2 else 0.1)
    return spin


def _set_combo_text(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    if index < 0:
        combo.addItem(text)
        index = combo.findText(text)
    combo.setCurrentIndex(index)
