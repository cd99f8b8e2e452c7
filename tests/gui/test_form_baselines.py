"""The app with the SEMICON-family baselines: the Train form keeps each one's protocol (Nesterov, V from randn,
its option block) and the Explain tab offers their attention parts only for runs that have them."""

from __future__ import annotations

from core.config.presets import preset_config
from fghash_gui.panels.explain import OVERLAYS

PARTS = next(name for name, (kind, _) in OVERLAYS.items() if kind == "parts")


def test_form_keeps_the_baselines_protocol(window):
    form = window.training.form
    for method in ("semicon", "agmh", "a2net", "exchnet"):
        cfg = preset_config("paper", method, 12)
        form.set_config(cfg)
        got = form.config()
        assert got.method == method and got.nesterov == cfg.nesterov and got.adsh.v_init == "randn"
        assert getattr(got, method) == getattr(cfg, method) and got.adsh == cfg.adsh
        assert (got.lr, got.epochs, got.momentum, got.batch_size) == (cfg.lr, cfg.epochs, cfg.momentum, 16)


def test_parts_overlay_is_offered_for_the_methods_with_part_maps(window):
    panel = window.explain
    item = panel.overlay_combo.model().item(panel.overlay_combo.findText(PARTS))
    for method, offered in (("semicon", True), ("agmh", True), ("adsh", False), ("multifusnet", False)):
        panel.method = method
        panel._update_controls()
        assert item.isEnabled() == offered, method
