"""Multi-FusNet's end-of-training database encoding reports its progress instead of running silently."""

from __future__ import annotations

import pytest
import torch
from test_multifusnet_training import _cfg, _tiny_dataset  # pytest puts tests/core on sys.path

from core.base.events import Progress
from core.training.methods.proxy import MultiFusNetMethod

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_encode_database_yields_progress_and_the_same_codes() -> None:
    method = MultiFusNetMethod(_cfg(batch_size=8), _tiny_dataset(), torch.device("cpu"))
    events, generator = [], method.encode_database()
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            codes = stop.value
            break
    progress = [e for e in events if isinstance(e, Progress) and e.phase == "encode database"]
    assert [(p.done, p.total) for p in progress][-1] == (16, 16) and len(progress) >= 2  # two batches of 8
    assert torch.equal(codes, method.database_codes())
