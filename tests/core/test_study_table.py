"""The study table and its paired tests, from cell states (no training): layout, bold, not-run marks,
chance and reported rows, the three formats, and the statistics against scipy."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from scipy import stats

from core.base.errors import ConfigError
from core.config.study_file import parse_study
from core.evaluation.significance import holm, paired_test
from core.runs.store import RunRecord
from core.studies.grid import expand
from core.studies.state import CellState
from core.studies.table import ReportedRow, build_study_table, format_study_table

STUDY = """
id = "t"
preset = "quick"
bits = [12, 24]
seeds = [0, 1, 2, 3, 4, 5]
[[datasets]]
kind = "demo"
[[methods]]
method = "adsh"
label = "ADSH"
[[methods]]
method = "fcaenet"
label = "FCAENet"
[[methods]]
method = "fcaenet"
label = "FCAENet w/o SREM"
options.fcae.use_srem = false
"""


def _states(values: dict[str, list[float | None]]) -> list[CellState]:
    """values[label][i]: the mAP of the label's i-th cell (bits-major, then seed); None = not run."""
    out, seen = [], {}
    for cell in expand(parse_study(STUDY)):
        i = seen.get(cell.method, 0)
        seen[cell.method] = i + 1
        value = values[cell.method][i]
        if value is None:
            out.append(CellState(cell, "pending"))
        else:
            record = RunRecord(f"run-{cell.key}", "/nowhere", cell.config.method, "demo", None, cell.bits, "resnet18",
                               "finished", 0.0, 1.0, value, "{}")
            out.append(CellState(cell, "finished", record))
    return out


RNG = np.random.default_rng(0)
FCAE = list(0.5 + 0.02 * RNG.standard_normal(12))
ADSH = [v - 0.05 + 0.01 * RNG.standard_normal() for v in FCAE]
NO_SREM = [None] * 6 + [v - 0.01 for v in FCAE[6:9]] + [None] * 3  # 24 bits, 3 of 6 seeds


def test_layout_bold_not_run_and_partial_counts():
    table = build_study_table("t", "T", _states({"ADSH": ADSH, "FCAENet": FCAE, "FCAENet w/o SREM": NO_SREM}),
                              {"demo": 0.1191})
    text = format_study_table(table, "markdown")
    assert table.rows == ("ADSH", "FCAENet", "FCAENet w/o SREM") and table.columns == (("demo", 12), ("demo", 24))
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    fcae12 = 100 * np.mean(FCAE[:6])
    assert f"**{fcae12:.2f} ± {100 * np.std(FCAE[:6], ddof=1):.2f} (6)**" in lines["FCAENet"]
    assert "not run" in lines["FCAENet w/o SREM"] and "(3/6)" in lines["FCAENet w/o SREM"]
    assert "0.00" not in lines["FCAENet w/o SREM"]  # a missing cell is never a zero
    assert "11.91 | 11.91" in lines["*chance (random codes)*"]
    assert "27 of 36 cells finished" in text


def test_significance_matches_scipy_and_holm():
    states = _states({"ADSH": ADSH, "FCAENet": FCAE, "FCAENet w/o SREM": NO_SREM})
    table = build_study_table("t", "T", states, {}, reference="fcaenet")  # a method name picks the one label
    assert table.reference == "FCAENet"
    by_other = {t.other: t for t in table.tests}
    adsh = by_other["ADSH"]
    assert adsh.n == 12
    assert adsh.t_p == pytest.approx(stats.ttest_rel(FCAE, ADSH).pvalue)
    assert adsh.wilcoxon_p == pytest.approx(stats.wilcoxon(np.subtract(FCAE, ADSH)).pvalue)
    assert adsh.mean_diff == pytest.approx(np.mean(np.subtract(FCAE, ADSH)))
    no_srem = by_other["FCAENet w/o SREM"]
    assert no_srem.n == 3 and "Wilcoxon cannot reach p < 0.05" in no_srem.note
    assert "t-test undefined" in no_srem.note  # identical differences: no variance
    assert adsh.t_p_holm == pytest.approx(min(1.0, adsh.t_p))  # the only t-test with a p value
    latex = format_study_table(table, "latex")
    assert r"\toprule" in latex and r"\textbf{" in latex and "Holm" in latex and "Wilcoxon" in latex
    rows = list(csv.reader(io.StringIO(format_study_table(table, "csv"))))
    assert rows[0][:4] == ["kind", "row", "dataset", "bits"]
    assert ["reference", "other"] == rows[rows.index([]) + 1][:2]


def test_holm_and_small_n_notes():
    assert holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert paired_test("x", [0.5], [0.4]).note == "n = 1: no test"
    assert paired_test("x", [0.5, 0.6], [0.5, 0.6]).note == "all differences are zero"
    assert paired_test("x", [], []).n == 0


def test_reported_rows_are_labelled_and_unknown_reference_is_one_line():
    reported = [ReportedRow("FCAENet", "FCAENet Table 1", {("demo", 12): 34.76})]
    table = build_study_table("t", "T", _states({"ADSH": ADSH, "FCAENet": FCAE, "FCAENet w/o SREM": NO_SREM}),
                              {}, reported)
    assert "| *FCAENet [reported, FCAENet Table 1]* | 34.76 |  |" in format_study_table(table, "markdown")
    with pytest.raises(ConfigError, match="no method of the study matches; its methods are ADSH, FCAENet"):
        build_study_table("t", "T", _states({"ADSH": ADSH, "FCAENet": FCAE, "FCAENet w/o SREM": NO_SREM}), {},
                          reference="dpsh")


def test_slurm_parameters_make_a_valid_sbatch_script(tmp_path, monkeypatch):
    """The [slurm] table through submitit's own SLURM executor (a stand-in `srun` on PATH: no cluster here)."""
    submitit = pytest.importorskip("submitit")
    from core.studies.executors import cell_command, submitit_parameters
    from core.studies.state import StudyFolder

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    spec = parse_study(STUDY + '[slurm]\npartition = "gpu"\ntime_min = 90\ngpus_per_task = 2\n'
                              'setup = ["module load cuda"]\n')
    params = submitit_parameters(spec, "slurm", 8, spec.slurm)
    executor = submitit.AutoExecutor(folder=tmp_path / "logs" / "%j", cluster="slurm")
    executor.update_parameters(**params)  # refuses unknown parameter names
    script = executor._executor._make_submission_file_text("python -u -m x", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=2",
                 "#SBATCH --job-name=fghash-t", "module load cuda"):
        assert line in script, script
    assert executor._executor.parameters.get("array_parallelism") == 8
    command = cell_command(StudyFolder(tmp_path / "s"), "demo|ADSH|12b|seed0", gpus_per_task=2)
    assert command[:3] == ["torchrun", "--standalone", "--nproc_per_node=2"] and command[-1] == "demo|ADSH|12b|seed0"


def test_the_papers_numbers_become_labelled_reference_rows():
    from core.studies.table import paper_rows

    spec = parse_study('id = "p"\nbits = [12, 24]\n[[datasets]]\nkind = "cub"\nroot = "/data/cub"\n'
                       '[[methods]]\nmethod = "fcaenet"\nlabel = "ours"\n[[methods]]\nmethod = "adsh"\n')
    rows = paper_rows([CellState(cell, "pending") for cell in expand(spec)])
    assert [r.label for r in rows] == ["FCAENet", "ADSH"]
    assert rows[0].values == {("cub", 12): 34.76, ("cub", 24): 67.67} and "FCAENet" in rows[0].source
    text = format_study_table(build_study_table("p", "P", [CellState(c, "pending") for c in expand(spec)], {},
                                                rows), "markdown")
    assert "| *FCAENet [reported, FCAENet (Zhao et al. 2022) Table 1]* | 34.76 | 67.67 |" in text
    assert "| ours | not run | not run |" in text


def test_study_labels_cannot_inject_into_exports() -> None:
    """Row labels come from the study file: a `|` or a newline stays inside its Markdown cell, a formula-like
    label is neutralised in CSV (issue 22's rule for every table export)."""
    from core.studies.table import StudyTable, format_study_table

    table = StudyTable(study_id="s", title="t|x", rows=("a|b\nc", "=cmd()"), columns=(("demo", 12),), entries={},
                       expected={("a|b\nc", ("demo", 12)): 1, ("=cmd()", ("demo", 12)): 1}, chance={})
    markdown = format_study_table(table, "markdown")
    assert "| a\\|b c |" in markdown and "### t\\|x" in markdown
    csv_text = format_study_table(table, "csv")
    assert "'=cmd()" in csv_text and "\n=cmd()" not in csv_text
