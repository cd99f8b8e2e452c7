"""`fghash eval` with several runs of which one has no codes: the others' rows print, the failed run is named."""

from __future__ import annotations

import numpy as np

from core.cli import main
from core.config.train_config import TrainConfig
from core.runs.catalog import create_run
from core.runs.store import RunStore
from core.search.codes import save_codes


def _run_with_codes(seed: int):
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=12), store=RunStore())
    rng = np.random.default_rng(seed)
    for split, count in (("query", 6), ("database", 20)):
        codes = np.where(rng.random((count, 12)) < 0.5, -1, 1)
        save_codes(paths, split, codes, np.arange(count) % 3, [f"/img/{split}{i}.png" for i in range(count)])
    return paths


def test_eval_prints_the_others_and_names_the_run_without_codes(capsys):
    good = [_run_with_codes(1), _run_with_codes(2)]
    empty = create_run(TrainConfig(backbone="resnet18", weights="none", seed=5), store=RunStore())
    assert main(["eval", good[0].run_id, empty.run_id, good[1].run_id, "--ks", "5", "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    # table rows start with the run id cut to 34 characters; ids made in the same second may share that much
    rows = [line for line in out.splitlines() if line[:8].isdigit()]
    assert len(rows) == 2 and rows[0].startswith(good[0].run_id[:34]) and rows[1].startswith(good[1].run_id[:34])
    assert empty.run_id not in out
    assert f"fghash: error: {empty.run_id}:" in err and ("database.npz" in err or "query.npz" in err)
    assert "Traceback" not in err
