"""Train form: the allow-missing switch with the image counts, and core's presets with the CLI's names."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.config.presets import PRESETS, preset_config
from fghash_gui.panels.training_checks import PRESET_FIELDS
from fghash_gui.panels.training_form import FORM_PRESETS


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


def test_allow_missing_switch_shows_counts_and_unblocks_start(window, qtbot, tmp_path):
    _partial_vegfru(tmp_path)
    form = window.training.form
    form.kind_combo.setCurrentText("vegfru")
    form.root_edit.setText(str(tmp_path))
    qtbot.waitUntil(lambda: bool(form.problems), timeout=20_000)
    assert "7 of 8 listed images present (1 missing)" in form.problems[0]
    assert "allow missing" in form.problems[0] and not any("allow_missing=True" in p for p in form.problems)
    assert not window.training.start_button.isEnabled()
    form.allow_missing_check.setChecked(True)
    qtbot.waitUntil(lambda: not form.problems and "7 of 8" in form.dataset_summary, timeout=20_000)
    assert form.config().allow_missing is True
    assert window.training.start_button.isEnabled()


def test_form_offers_cores_presets_with_their_values(window):
    form = window.training.form
    assert [form.preset_combo.itemText(i) for i in range(form.preset_combo.count())] == [*PRESETS, "custom"]
    assert FORM_PRESETS == (*PRESETS, "custom")
    form.method_combo.setCurrentIndex(form.method_combo.findData("fcaenet"))
    form.bits_combo.setCurrentIndex(form.bits_combo.findData(24))
    form.preset_combo.setCurrentText("quick")
    built, quick = form.config(), preset_config("quick", "fcaenet", 24, "demo")
    assert all(getattr(built, f) == getattr(quick, f) for f in PRESET_FIELDS)
    assert built.fcae.srem_size == quick.fcae.srem_size
    form.preset_combo.setCurrentText("code")  # Multi-FusNet only: says so, leaves the values alone
    assert "multifusnet only" in form.preset_note.text()
    assert form.config().epochs == quick.epochs
    form.set_config(quick)
    assert form.preset_combo.currentText() == "quick"
