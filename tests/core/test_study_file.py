"""Study files: one-line errors naming the key, the grid they expand to, cell identity, shipped files."""

from __future__ import annotations

import sqlite3

import pytest

from core.base.errors import ConfigError
from core.config.study_file import load_study, parse_study
from core.runs.store import RunStore
from core.studies.examples import example_files, list_examples
from core.studies.grid import expand

BASE = """
id = "t"
preset = "quick"
bits = [12, 24]
seeds = [0, 1]
[options]
backbone = "resnet18"
adsh.num_samples = 50
[[datasets]]
kind = "demo"
[[methods]]
method = "adsh"
[[methods]]
method = "fcaenet"
label = "FCAENet w/o SREM"
options.fcae.use_srem = false
"""


def test_grid_is_the_product_with_stable_keys_and_merged_options():
    cells = expand(parse_study(BASE))
    assert len(cells) == 1 * 2 * 2 * 2
    assert cells[0].key == "demo|adsh|12b|seed0"
    no_srem = [c for c in cells if c.method == "FCAENet w/o SREM"]
    assert all(not c.config.fcae.use_srem and c.config.method == "fcaenet" for c in no_srem)
    assert all(c.config.adsh.num_samples == 50 and c.config.backbone == "resnet18" for c in cells)
    assert {c.config.seed for c in cells} == {0, 1} and {c.config.bits for c in cells} == {12, 24}


def test_sweeps_multiply_the_grid_and_name_the_row():
    spec = parse_study(BASE + '[[sweeps]]\noption = "fcae.srem_regions"\nvalues = [10, 50]\nlabel = "N"\n')
    cells = expand(spec)
    assert len(cells) == 16
    assert {c.config.fcae.srem_regions for c in cells} == {10, 50}
    assert cells[0].key.endswith("|N=10") and cells[0].row == "adsh, N=10"


def test_a_changed_option_changes_the_hash_but_not_the_key():
    before = {c.key: c.config_hash for c in expand(parse_study(BASE))}
    after = {c.key: c.config_hash for c in expand(parse_study(BASE.replace("num_samples = 50", "num_samples = 60")))}
    assert before.keys() == after.keys()
    assert all(before[k] != after[k] for k in before)
    workers = {c.key: c.config_hash for c in expand(parse_study(BASE.replace("[options]", "[options]\nnum_workers = 3")))}
    assert workers == before  # loader workers change the speed, not the result


@pytest.mark.parametrize("edit, message", [
    (('id = "t"', 'id = "Bad Id"'), "id: must be 1-64 characters"),
    (('bits = [12, 24]', 'bits = [12, "x"]'), "bits[1]: must be an integer in 4..256"),
    (('bits = [12, 24]', 'bits = [12, 12]'), "bits: lists a value twice"),
    (('preset = "quick"', 'preset = "fast"'), "preset: must be one of paper, code, quick"),
    (('kind = "demo"', 'kind = "cub"'), "datasets[0].root: missing"),
    (('method = "adsh"', 'methd = "adsh"'), "methods[0].methd: unknown key"),
    (('seeds = [0, 1]', 'seeds = [0, 1]\ncolour = 1'), "colour: unknown key"),
    (('label = "FCAENet w/o SREM"', 'label = "adsh"'), "methods: label 'adsh' is used twice"),
    (('label = "FCAENet w/o SREM"', 'label = "a|b"'), "methods[1].label: must be non-empty and must not contain '|'"),
    (('id = "t"', 'id = "t"\nreference = "nope"'), "reference: 'nope' is not a method label"),
    (('[options]', '[slurm]\ntime_min = 0\n[options]'), "slurm.time_min: must be >= 1"),
    (('bits = [12, 24]', 'bits = [12, 24'), "not valid TOML"),
])
def test_invalid_files_give_one_line_naming_the_key(tmp_path, edit, message):
    path = tmp_path / "study.toml"
    path.write_text(BASE.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_study(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


@pytest.mark.parametrize("edit, message", [
    (("adsh.num_samples = 50", "adsh.num_sample = 50"), "options.adsh.num_sample: unknown adsh option"),
    (("backbone = ", "backbon = "), "options.backbon: unknown training option"),
    (("options.fcae.use_srem = false", "options.bits = 12"), "methods[1].options.bits: set by the study's"),
    (("options.fcae.use_srem = false", 'options.fcae.use_srem = "no"'),
     "methods[1] (FCAENet w/o SREM): config.fcae.use_srem must be bool"),
    (('method = "adsh"', 'method = "dpshh"'), "methods[0] (dpshh): method must be one of"),
    (("adsh.num_samples = 50", "epochs = 2.5"), "config.epochs must be int"),
])
def test_bad_options_are_named_when_the_grid_expands(edit, message):
    spec = parse_study(BASE.replace(*edit))
    with pytest.raises(ConfigError, match=".*") as info:
        expand(spec)
    assert message in str(info.value), str(info.value)


def test_every_shipped_study_reads_and_expands():
    names = {path.stem for path in example_files()}
    assert {"demo", "fcaenet-table1", "fcaenet-table2", "fcaenet-table3", "fcaenet-table4", "multifusnet-table3",
            "multifusnet-table6", "multifusnet-fig9"} <= names
    for path, spec, problem in list_examples():
        assert spec is not None, problem
        assert "GPU-hours" in path.read_text() or spec.study_id == "demo"
        cells = expand(spec)
        expected = len(spec.datasets) * len(spec.methods) * len(spec.bits) * len(spec.seeds)
        for sweep in spec.sweeps:
            expected *= len(sweep.values)
        assert len(cells) == expected
    demo = expand(load_study(dict((p.stem, p) for p in example_files())["demo"]))
    assert len(demo) == 8 and {c.config.image_size for c in demo} == {32}


def test_an_old_store_gets_the_study_table(fghash_home):
    path = fghash_home / "runs.sqlite"
    with sqlite3.connect(path) as db:  # the first release's runs table only
        db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, run_dir TEXT NOT NULL, method TEXT NOT NULL, "
                   "dataset_kind TEXT NOT NULL, dataset_root TEXT, bits INTEGER NOT NULL, backbone TEXT NOT NULL, "
                   "status TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, final_map REAL, "
                   "config_json TEXT NOT NULL)")
    with RunStore(path) as store:
        assert store.study_ids() == [] and store.study_cells("x") == []


def test_cli_gives_one_line_and_exit_2_for_a_bad_file_or_an_unknown_study(tmp_path, capsys):
    from core.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace('bits = [12, 24]', 'bits = []'))
    assert main(["study", "status", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bits: must list at least one value" in err
    assert main(["study", "run", "no-such-study"]) == 2
    assert "no shipped study 'no-such-study'; the shipped ones are demo" in capsys.readouterr().err
    assert main(["study", "list"]) == 0
    assert "no studies yet" in capsys.readouterr().out
