"""The Train form's method menu comes from the method registry, and a baseline's preset options (which have no
widgets) survive the form's round trip."""

from __future__ import annotations

from core import engine


def test_method_menu_lists_every_registered_method(window):
    form = window.training.form
    combo = form.method_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(engine.method_names())
    assert [combo.itemText(i) for i in range(combo.count())] == [engine.method_info(m).label
                                                                 for m in engine.method_names()]
    assert combo.currentData() == "fcaenet"


def test_quick_hashnet_from_the_form_keeps_one_pass_epochs(window):
    form = window.training.form
    form.method_combo.setCurrentIndex(form.method_combo.findData("hashnet"))
    form.preset_combo.setCurrentText("quick")
    cfg = form.config()
    assert cfg.method == "hashnet" and cfg.hashnet.iterations_per_epoch == 0
    form.preset_combo.setCurrentText("paper")
    assert form.config().hashnet.iterations_per_epoch == 500
