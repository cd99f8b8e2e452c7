"""Train form: the allow-missing switch with the image counts; the form's config is always exactly the shown
preset of core plus the user's edits (issue 23, item 1); the live weights check (item 9)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PIL import Image

from core import engine
from core.base.errors import ConfigError
from core.config.presets import PRESETS, preset_config
from core.config.train_config import METHODS
from core.models.backbones import hub_weights_path
from fghash_gui.panels.training_form import TrainingForm


def _partial_vegfru(root: Path) -> None:
    """A 2-class VegFru layout listing 8 images of which 1 is absent (a partial download)."""
    lists = {"train": [], "test": [], "val": []}
    for label, rel in enumerate(["veg200_images/Chinese_artichoke", "fru92_images/Apple"]):
        for i in range(5):
            split = "train" if i < 2 else ("val" if i == 2 else "test")
            name = f"{rel}/{label}_{i}.jpg"
            lists[split].append(f"{name} {label}")
            if (label, i) != (0, 4):
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (32, 24), (120, 60, 30)).save(root / name)
    (root / "vegfru_list").mkdir(parents=True)
    for split, lines in lists.items():
        (root / "vegfru_list" / f"vegfru_{split}.txt").write_text("\n".join(lines))


@pytest.fixture
def form(qtbot):
    """A bare form (its checks run synchronously when their debounce timers fire)."""
    widget = TrainingForm()
    qtbot.addWidget(widget)
    return widget


def test_allow_missing_switch_shows_counts_and_unblocks_start(window, qtbot, tmp_path):
    _partial_vegfru(tmp_path)
    form = window.training.form
    form.kind_combo.setCurrentText("vegfru")
    form.weights_combo.setCurrentText("none")  # the test needs no network (an edit on top of vegfru's preset)
    form.root_edit.setText(str(tmp_path))
    qtbot.waitUntil(lambda: any("listed images present" in p for p in form.problems), timeout=20_000)
    assert form.weights_combo.currentText() == "none", (form.edits, form.problems)
    assert "7 of 8 listed images present (1 missing)" in form.problems[0]
    assert "allow missing" in form.problems[0] and not any("allow_missing=True" in p for p in form.problems)
    assert not window.training.start_button.isEnabled()
    form.allow_missing_check.setChecked(True)
    qtbot.waitUntil(lambda: not form.problems and "7 of 8" in form.dataset_summary, timeout=20_000)
    assert form.config().allow_missing is True
    assert window.training.start_button.isEnabled()


def _choose(form: TrainingForm, kind: str, method: str, preset: str) -> None:
    """As a user: the dataset kind, the method, the preset (each through its widget)."""
    form.kind_combo.setCurrentText(kind)
    form.method_combo.setCurrentIndex(form.method_combo.findData(method))
    form.preset_combo.setCurrentText(preset)


def test_form_is_the_preset_plus_the_edits_for_every_kind_preset_and_method(form, tmp_path):
    """Issue 23: "cub" + "quick" stayed at ResNet-50 / 224 px / 40 iterations; Flowers showed "paper" with the
    quick values; an edited image size left SREM's 32 px square. Every combination, before and after edits."""
    root = str(tmp_path)
    form.root_edit.setText(root)
    bits = int(form.bits_combo.currentData())
    for kind in engine.DATASET_KINDS:
        for method in METHODS:
            for preset in PRESETS:
                form.reset_edits()
                _choose(form, kind, method, preset)
                assert form.preset_combo.currentText() == preset and form.edits == {}
                if preset == "code" and method != "multifusnet":
                    with pytest.raises(ConfigError, match="multifusnet only"):
                        form.config()
                    assert "multifusnet only" in form.preset_note.text() and form.problems
                    continue
                expected = preset_config(preset, method, bits, kind, dataset_root=root)
                assert form.config() == expected, (kind, method, preset)
                assert form.epochs_spin.value() == expected.epochs  # the widgets show it too
                assert form.backbone_combo.currentText() == expected.backbone
                form.epochs_spin.setValue(3)
                form.image_size_spin.setValue(64)
                form.schedule_box.widgets["fcae.srem_regions"].setValue(7)
                assert form.preset_combo.currentText() == preset  # still the preset, now with edits
                assert set(form.edits) == {"epochs", "image_size", "fcae.srem_regions"}
                edited = preset_config(preset, method, bits, kind, dataset_root=root, epochs=3, image_size=64,
                                       fcae={"srem_regions": 7})
                assert form.config() == edited, (kind, method, preset)
                assert form.config().fcae.srem_size == edited.fcae.srem_size <= 10  # scaled with the crop
                assert form.schedule_box.widgets["resize_size"].value() == edited.resize_size == 73


def test_edits_survive_a_preset_change_and_an_edit_back_is_no_edit(form):
    _choose(form, "demo", "fcaenet", "paper")
    form.epochs_spin.setValue(7)
    form.lr_spin.setValue(0.01)
    form.preset_combo.setCurrentText("quick")
    assert form.config() == preset_config("quick", "fcaenet", 12, "demo", epochs=7, lr=0.01)
    assert "epochs = 7" in form.edits_label.text() and form.reset_button.isEnabled()
    form.epochs_spin.setValue(preset_config("quick", "fcaenet", 12).epochs)
    assert set(form.edits) == {"lr"}
    form.milestones_edit.setText("2; 4")
    form.milestones_edit.setModified(True)  # as typed by a user, not yet confirmed with Enter
    assert form.config().lr_milestones == (2, 4)
    form.milestones_edit.setText("2, four")
    form.milestones_edit.setModified(True)
    with pytest.raises(ConfigError, match="LR milestones"):
        form.config()
    form.reset_button.click()
    assert form.config() == preset_config("quick", "fcaenet", 12, "demo")
    assert form.edits_label.text() == "exactly the preset" and not form.reset_button.isEnabled()


def test_set_config_shows_any_config_as_a_preset_plus_edits(form, tiny_config):
    paper = preset_config("paper", "fcaenet", 48, "nabirds", dataset_root="/data/nabirds")
    form.set_config(paper)
    assert (form.preset, form.edits, form.config()) == ("paper", {}, paper)
    for cfg in (tiny_config("multifusnet", bits=24), tiny_config("adsh").replace(validation="fraction",
                                                                                 val_fraction=0.2, amp=True),
                preset_config("code", "multifusnet", 12, "cub", dataset_root="/c"),
                preset_config("quick", "fcaenet", 32, "demo").replace(image_size=48, resize_size=300)):
        form.set_config(cfg)
        assert form.config() == cfg
    cfg = tiny_config("multifusnet")
    cfg = cfg.replace(multifus=dataclasses.replace(cfg.multifus, use_attention=False))
    form.set_config(cfg)
    assert form.multifus_row.isEnabled() and not form.fcae_row.isEnabled()
    assert not form.attention_check.isChecked() and form.config() == cfg


def test_weights_check_offers_none_and_a_file(form, qtbot, tmp_path, monkeypatch):
    form.weights_combo.setCurrentText(str(tmp_path / "missing.pth"))
    qtbot.waitUntil(lambda: form.weights_problem is not None, timeout=10_000)
    assert "missing.pth" in form.weights_label.text() and form.use_none_button.isVisibleTo(form)
    assert form.weights_problem in form.problems
    form.use_none_button.click()
    qtbot.waitUntil(lambda: form.weights_problem is None, timeout=10_000)
    assert form.config().weights == "none" and "random initialisation" in form.weights_label.text()
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(hub))
    hub_weights_path("resnet18").touch()  # a cached file: available without a network
    form.backbone_combo.setCurrentText("resnet18")
    form.weights_combo.setCurrentText("imagenet")
    qtbot.waitUntil(lambda: "imagenet weights available" in form.weights_label.text(), timeout=10_000)
    assert form.weights_problem is None


def test_typing_a_weights_path_adds_no_menu_items(form, qtbot, tmp_path):
    before = form.weights_combo.count()
    form.weights_combo.setFocus()
    form.weights_combo.lineEdit().selectAll()
    qtbot.keyClicks(form.weights_combo.lineEdit(), "/tmp/w.pth")
    assert form.weights_combo.count() == before and form.weights_combo.currentText() == "/tmp/w.pth"
    assert form.edits["weights"] == "/tmp/w.pth"
