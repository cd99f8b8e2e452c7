"""core.figures and `fghash figure ...`: paper figures and tables from a tiny run (the retrieval tests'
random-init FCAENet on a 3-class folder dataset), plus the chance level in `fghash eval`."""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image
from test_retrieval import run  # noqa: F401  (the fixture: pytest puts tests/core on sys.path)

from core import engine
from core.cli import main
from core.config.train_config import TrainConfig
from core.figures.common import CORRECT_COLOR, WRONG_COLOR, FigureError, save_figure
from core.figures.export import write_attention_figure, write_bits_figure, write_pr_figure, write_retrieval_figure
from core.figures.retrieval import gather_retrieval, retrieval_figure
from core.figures.table import build_table, format_table
from core.retrieval.service import RetrievalReport, run_chance_map

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_retrieval_figure_frames_follow_the_ranking(run, tmp_path):
    paths, _ = run
    panels = gather_retrieval([paths, paths], [0, 4], k=5)
    assert [[p.result.hits for p in row] for row in panels] == \
        [[engine.query(q, paths, k=5).hits] * 2 for q in (0, 4)]
    fig = retrieval_figure(panels)
    # every result axes is framed in its hit's colour, in drawing order (query rows, runs, ranks)
    hits = [hit for row in panels for p in row for hit in p.result.hits]
    framed = [ax for ax in fig.axes if ax.spines["top"].get_linewidth() > 2]
    assert len(framed) == len(hits) == 20
    want = [CORRECT_COLOR if h.correct else WRONG_COLOR for h in hits]
    got = ["#%02x%02x%02x" % tuple(round(255 * c) for c in ax.spines["top"].get_edgecolor()[:3]) for ax in framed]
    assert got == want
    assert [ax.get_xlabel() for ax in framed[:5]] == [f"d = {h.distance}" for h in hits[:5]]

    pdf = write_retrieval_figure([paths], [0, 1], tmp_path / "ret.pdf", k=4)
    assert pdf.read_bytes().startswith(b"%PDF")
    small = save_figure(fig, tmp_path / "small.png", dpi=40)
    large = save_figure(fig, tmp_path / "large.png", dpi=80)
    w_small, w_large = Image.open(small).size[0], Image.open(large).size[0]
    assert abs(w_large / w_small - 2) < 0.1


def test_attention_figure_has_every_column_and_a_colour_bar(run, tmp_path):
    paths, _ = run
    out = write_attention_figure(paths, [0, 3], tmp_path / "att.svg", target=0)
    text = out.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    from core.figures.attention import gather_attention

    rows = gather_attention(paths, [engine.query(0, paths, k=1).query_path])
    titles = [p.title for p in rows[0].panels]
    assert titles[:2] == ["image", "CAM"] and titles[2].startswith("Grad-CAM") and titles[4] == "erased"
    assert rows[0].panels[3].mask is not None and rows[0].panels[1].heatmap is not None


def test_pr_and_bits_figures(run, tmp_path):
    paths, _ = run
    assert write_pr_figure([paths], tmp_path / "pr.pdf").read_bytes().startswith(b"%PDF")
    png = write_bits_figure([paths], tmp_path / "bits.png", dpi=50)
    assert Image.open(png).size[0] > 100


def _pr_report(run_id, method, kind, precisions):
    curve = tuple((r, p, (r + 1) / len(precisions)) for r, p in enumerate(precisions))
    return dataclasses.replace(_report(run_id, 12, 0.3), method=method, dataset_kind=kind, pr_curve=curve)


def test_pr_figure_draws_each_datasets_chance_line_and_says_below_chance():
    from core.base.style import METHOD_COLORS
    from core.evaluation.chance import ChanceLevels
    from core.figures.curves import pr_figure

    reports = [_pr_report("r1", "fcaenet", "cub", [0.5, 0.4, 0.3]),
               _pr_report("r2", "adsh", "flowers", [0.005, 0.006, 0.02])]
    chance = [ChanceLevels(0.02, {}, {}, 0.02, "cub"), ChanceLevels(0.0098, {}, {}, 0.0098, "flowers")]
    ax = pr_figure(reports, chance=chance).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["chance (cub)"].get_ydata()[0] == pytest.approx(2.0)
    assert lines["chance (flowers)"].get_ydata()[0] == pytest.approx(0.98)
    assert lines["chance (cub)"].get_linestyle() == "--"
    assert "FCAENet 12 bits" in lines and "ADSH 12 bits (below chance at 2 of 3 radii)" in lines
    assert lines["FCAENet 12 bits"].get_color() == METHOD_COLORS["fcaenet"]
    assert ax.get_ylim()[0] == 0 and ax.get_legend() is not None


def _report(run_id: str, bits: int, value: float) -> RetrievalReport:
    return RetrievalReport(run_id=run_id, method="fcaenet", dataset_kind="cub", bits=bits, num_queries=1,
                           num_database=1, map_all=value, map_all_index_order=value, map_at_k={},
                           map_at_k_index_order={}, precision_at_k={}, precision_at_k_index_order={}, pr_curve=(),
                           per_query_ap=(), per_query_ap_index_order=(), largest_code_share=0.0)


def test_table_averages_seeds_and_footnotes_the_chance_level():
    cfg = TrainConfig(method="fcaenet", dataset_kind="cub", dataset_root="/data/CUB_200_2011", bits=12)
    reports = [_report("a", 12, 0.30), _report("b", 12, 0.34), _report("c", 24, 0.5), _report("d", 12, 0.2)]
    configs = [cfg.replace(seed=1), cfg.replace(seed=2), cfg.replace(bits=24), cfg.replace(fcae=dataclasses.replace(cfg.fcae, use_srem=False))]
    table = build_table(reports, configs, [0.0123] * 4)
    markdown = format_table(table, "markdown")
    # the default ESRL scale is a reconstruction, and the row says so
    assert "| FCAENet (ESRL quant [RECON]) | 32.00 ± 2.83 (2) | 50.00 |" in markdown
    ablation = [line for line in markdown.splitlines() if "srem" in line.lower()]
    assert len(ablation) == 1 and ablation[0] == "| FCAENet (no SREM, ESRL quant [RECON]) | 20.00 | – |"
    assert "± 0.00" not in markdown and "(1)" not in markdown
    assert "Chance level (cub): 1.23" in markdown
    latex = format_table(table, "latex")
    assert r"\toprule" in latex and r"32.00 $\pm$ 2.83 (2)" in latex and r"Chance level (cub): 1.23" in latex
    rows = list(csv.DictReader(io.StringIO(format_table(table, "csv"))))
    first = next(r for r in rows if r["variant"] == "ESRL quant [RECON]" and r["bits"] == "12")
    assert (float(first["map_all_mean"]), int(first["n_runs"]), float(first["chance_map_all"])) == \
        (pytest.approx(0.32), 2, 0.0123)
    with pytest.raises(FigureError, match="different splits"):
        build_table(reports[:2], configs[:2], [0.1, 0.2])


def test_table_options_validation_metric_dataset_groups_and_timing():
    cub = TrainConfig(method="fcaenet", dataset_kind="cub", dataset_root="/data/cub", bits=12)
    flowers = cub.replace(dataset_kind="flowers", dataset_root="/data/flowers")
    reports = [_report("a", 12, 0.30), _report("b", 24, 0.40),
               dataclasses.replace(_report("c", 12, 0.20), dataset_kind="flowers"),
               dataclasses.replace(_report("d", 12, 0.10), method="adsh")]
    configs = [cub, cub.replace(bits=24), flowers, cub.replace(method="adsh")]
    table = build_table(reports, configs, [0.02, 0.02, 0.0098, 0.02], values=[0.31, 0.41, 0.21, 0.11],
                        metric="validation", by_dataset=True,
                        timings=[(60.0, 100.0), (120.0, 80.0), (3700.0, None), (None, None)])
    markdown = format_table(table, "markdown")
    lines = markdown.splitlines()
    assert lines[0] == "| method | cub 12 bits | cub 24 bits | flowers 12 bits | train time | img/s |"
    assert "| FCAENet (ESRL quant [RECON]) | 31.00 | 41.00 | 21.00 | 21:33 | 90 |" in lines  # (60 + 120 + 3700) / 3 s; (100 + 80) / 2
    assert "| ADSH | 11.00 | – | – | – | – |" in lines
    assert "selected on the validation split" in markdown and "Chance level (flowers): 0.98" in markdown
    latex = format_table(table, "latex")
    assert r"\multicolumn{2}{c}{cub}" in latex and r"\cmidrule(lr){2-3}" in latex and r"\cmidrule(lr){4-4}" in latex
    rows = list(csv.DictReader(io.StringIO(format_table(table, "csv"))))
    assert {r["metric"] for r in rows} == {"validation"}
    fcae_cub = next(r for r in rows if r["method"] == "fcaenet" and r["dataset"] == "cub")
    assert float(fcae_cub["train_seconds_mean"]) == 90.0 and float(fcae_cub["images_per_s_mean"]) == 90.0
    with pytest.raises(FigureError, match="no epoch selected on a validation split"):
        build_table(reports[:1], configs[:1], [0.02], values=[None], metric="validation")


def test_cli_figures_tables_and_eval_chance(run, tmp_path, capsys):
    paths, _ = run
    assert main(["figure", "table", paths.run_id, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and float(rows[0]["chance_map_all"]) == run_chance_map(paths)
    assert float(rows[0]["map_all_mean"]) == engine.evaluate(paths).map_all
    assert main(["figure", "table", paths.run_id, "-o", str(tmp_path / "t.tex")]) == 0
    assert r"\bottomrule" in (tmp_path / "t.tex").read_text()
    assert main(["figure", "retrieval", paths.run_id, "--queries", "0", "5", "-k", "3", "-o",
                 str(tmp_path / "r.png"), "--dpi", "40"]) == 0
    assert Image.open(tmp_path / "r.png").size[1] > 50
    capsys.readouterr()
    assert main(["figure", "pr", paths.run_id, "-o", str(tmp_path / "x.jpg")]) == 2
    assert main(["figure", "attention", paths.run_id, "99", "-o", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fghash: error: cannot tell the figure format from '%s': end the file name in .pdf, .svg, .png"
                   % (tmp_path / "x.jpg"),
                   "fghash: error: test-split index 99 is out of range: the run has 6 test images"]
    assert main(["eval", paths.run_id, "--pr", "--ks", "2", "5"]) == 0
    out = capsys.readouterr().out
    level = engine.chance_levels(paths, (2, 5))
    chance_row = next(line for line in out.splitlines() if line.startswith("chance ("))
    assert chance_row.split()[-6:] == [f"{100 * level.map_all:.2f}", f"{100 * level.map_at_k[2]:.2f}",
                                       f"{100 * level.map_at_k[5]:.2f}", f"{100 * level.precision_at_k[2]:.2f}",
                                       f"{100 * level.precision_at_k[5]:.2f}", "-"]
    assert level.map_all == run_chance_map(paths) and level.dataset == paths.load_config().dataset_kind
    assert f"chance precision {100 * level.pr_precision:.1f} at every radius" in out
    # 3 classes x 6 database images, every query's class present: (R-1)/(n-1) + H_n (n-R) / (n (n-1))
    harmonic = np.sum(1 / np.arange(1, 19))
    assert run_chance_map(paths) == pytest.approx(5 / 17 + harmonic * 12 / (18 * 17))


def test_bits_figure_keeps_its_legend_and_points_inside_and_names_methods():
    from core.base.style import METHOD_COLORS
    from core.figures.curves import bits_figure

    cfg = TrainConfig(method="fcaenet", dataset_kind="cub", dataset_root="/data/cub", bits=12)
    reports = [_report("a", 12, 0.60), _report("b", 12, 0.70), _report("c", 48, 0.80),
               dataclasses.replace(_report("d", 12, 0.01), method="adsh")]
    configs = [cfg.replace(seed=1), cfg.replace(seed=2), cfg.replace(bits=48), cfg.replace(method="adsh")]
    fig = bits_figure(reports, configs, [0.02] * 4)
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    frame = ax.get_window_extent()
    assert frame.x0 <= legend.x0 and legend.x1 <= frame.x1 and frame.y0 <= legend.y0 and legend.y1 <= frame.y1
    assert ax.get_xlim()[0] < 12 and ax.get_xlim()[1] > 48  # the first and last markers are whole
    assert ax.get_ylim()[1] > 100 * (0.65 + 0.0707)  # above the highest error bar
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # FCAENet's default ESRL scale is a reconstruction, and its series says so (issue 24)
    assert "FCAENet (ESRL quant [RECON])" in labels and "ADSH (below chance at 12 bits)" in labels
    assert "chance (cub)" in labels
    colors = {c.get_label(): c.lines[0].get_color() for c in ax.containers}
    assert colors == {"FCAENet (ESRL quant [RECON])": METHOD_COLORS["fcaenet"],
                      "ADSH (below chance at 12 bits)": METHOD_COLORS["adsh"]}
