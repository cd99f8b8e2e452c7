"""The engine on a real CUDA GPU: a training step of each method (AMP, channels-last, foreach SGD), a real
out-of-memory reported as the one-line error, AMP codes against float32 codes, GPU mAP and top-k search
against the CPU.

Every test here is marked `cuda` and skips without a GPU; `pytest -m cuda` (run by bench/gpu_check.sh)
selects them on a GPU machine. Sizes are small: the whole file takes seconds on an H100.
FGHASH_CUDA_TESTS_DEVICE=cpu dry-runs them on the CPU (bench/gpu_check.sh --cpu-dry-run): the same code
paths with "cuda" replaced by "cpu", without the CUDA-only assertions and the out-of-memory test.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from test_metrics import _random_case  # pytest puts tests/core on sys.path
from test_training import events_and_result

from core import engine
from core.base.events import BatchEnd, TrainFinished
from core.cli import main
from core.config.train_config import AdshOptions, FcaeOptions, MultiFusOptions, TrainConfig
from core.encoding.encode import drain, encode_records
from core.evaluation.metrics import map_all, summarize
from core.runs.checkpoint import load_run_model

DEVICE = os.environ.get("FGHASH_CUDA_TESTS_DEVICE", "cuda")
ON_CUDA = DEVICE.startswith("cuda")
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                       reason="no CUDA GPU visible to torch on this machine"),
    pytest.mark.usefixtures("one_torch_thread"),
]


def _cuda_cfg(method: str, **changes) -> TrainConfig:
    base = dict(method=method, backbone="resnet18", weights="none", image_size=64, resize_size=72, bits=12,
                batch_size=32, epochs=1, lr=0.01, lr_milestones=(), device=DEVICE, seed=3, eval_every=1,
                adsh=AdshOptions(num_samples=64, inner_epochs=1), fcae=FcaeOptions(srem_regions=10, srem_size=8),
                multifus=MultiFusOptions(cascade_mid_channels=32, cascade_out_channels=64, attention_heads=4,
                                         attention_mlp_dim=64, cascade_bn_momentum=0.1))
    base.update(changes)
    return TrainConfig(**base)


@pytest.mark.parametrize("method", ["adsh", "fcaenet", "multifusnet"])
def test_training_step_on_cuda(method):
    """One epoch on the demo set on the GPU: finite losses, weights on the GPU in channels-last, AMP and a
    foreach SGD in use, codes saved."""
    from core.data.registry import load_dataset
    from core.training.methods.registry import make_method

    events = list(engine.train(_cuda_cfg(method)))
    finished = events[-1]
    assert isinstance(finished, TrainFinished) and finished.status == "finished", finished
    losses = [e.loss for e in events if isinstance(e, BatchEnd)]
    assert losses and all(isinstance(x, float) and math.isfinite(x) for x in losses)
    assert finished.final_map is not None and 0.0 < finished.final_map <= 1.0

    if not ON_CUDA:
        return
    m = make_method(_cuda_cfg(method), load_dataset("demo", None), torch.device(DEVICE))
    assert m.stepper.amp and m.stepper.channels_last
    assert m.stepper.optimizer.defaults.get("foreach") and not m.stepper.optimizer.defaults.get("fused")
    assert torch.backends.cudnn.benchmark


@pytest.mark.skipif(not ON_CUDA, reason="CUDA graphs need CUDA; tests/core/test_compile_step.py is the CPU check")
@pytest.mark.parametrize("method", ["fcaenet", "multifusnet"])
def test_cuda_graph_steps_equal_eager(method):
    """Three steps with the model's entry points captured as CUDA graphs give the eager losses and weights:
    FCAENet's three views (two calls) and Multi-FusNet's two passes survive the graphs' reuse of their
    output memory. Backend "cudagraphs" is compile_step's mechanism (CUDA graph trees over the autograd
    graphs) without inductor's code generation, which would take minutes here; the speed of the real
    reduce-overhead step is bench/gpu_check.sh's compile step. float32 (amp off): comparable to 1e-3."""
    from test_compile_step import _one_step

    loss_e, _, weights_e, _ = _one_step(method, None, steps=3, device=DEVICE, amp=False)
    loss_c, _, weights_c, m = _one_step(method, "cudagraphs", steps=3, device=DEVICE, amp=False)
    assert m.stepper.compiled and m.stepper.take_notes() == []  # captured, nothing fell back to eager
    assert loss_c == pytest.approx(loss_e, rel=1e-3, abs=1e-5)
    for k in weights_e:
        torch.testing.assert_close(weights_c[k], weights_e[k], rtol=1e-3, atol=1e-4, msg=lambda msg: f"{k}: {msg}")
    torch._dynamo.reset()


def test_skipped_overflow_step_leaves_weights_and_momentum_untouched():
    """A step whose scaled gradients overflow is skipped entirely: no weight moves and no momentum buffer
    is created. torch 2.11's fused SGD broke this under a GradScaler (its kernel advanced the momentum on
    the skipped step; FCAENet and Multi-FusNet then diverged within an epoch on an H200), so the stepper
    uses foreach SGD on CUDA. On the CPU dry run the scaler is switched on by hand (it is off there)."""
    from core.training.methods.common import NetworkStepper

    cfg = _cuda_cfg("adsh")
    model = torch.nn.Linear(8, 4).to(DEVICE)
    stepper = NetworkStepper(model, cfg, torch.device(DEVICE))
    if not stepper.scaler.is_enabled():
        stepper.scaler = torch.amp.GradScaler(DEVICE, enabled=True)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x = torch.randn(16, 8, device=DEVICE)
    stepper.step(model(x).sum() * float("inf"))  # every gradient is inf or nan
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not any("momentum_buffer" in state and state["momentum_buffer"] is not None
                   for state in stepper.optimizer.state.values())
    stepper.step(model(x).sum())  # the next finite step trains normally
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert not torch.equal(model.weight, before["weight"])


@pytest.mark.skipif(not ON_CUDA, reason="a real CUDA out-of-memory needs a GPU")
def test_cuda_out_of_memory_is_one_line(capsys):
    """Fill the GPU deliberately (all but 2 GiB), then train ResNet-50 at batch 240 and 224 px: CUDA runs
    out of memory for real; the CLI prints one line (exit code 2, no traceback) and frees the cache."""
    torch.cuda.empty_cache()  # blocks cached by earlier tests would be room the ballast does not take
    free, _total = torch.cuda.mem_get_info()
    ballast = torch.empty(max(0, free - (2 << 30)), dtype=torch.uint8, device="cuda")
    try:
        code = main(["train", "--method", "adsh", "--preset", "quick", "--weights", "none",
                     "--backbone", "resnet50", "--image-size", "224", "--epochs", "1", "--num-samples", "240",
                     "--inner-epochs", "1", "--batch-size", "240", "--device", "cuda", "--num-workers", "0"])
    finally:
        del ballast
        torch.cuda.empty_cache()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err[-5:]
    assert err[-1].startswith("fghash: error: cuda ran out of memory at batch size 240 and image size 224")
    assert not any("Traceback" in line for line in err)
    (record,) = engine.list_runs()
    assert record.status == "failed"
    # the memory is usable again: a small step runs
    assert torch.ones(1024, device="cuda").sum().item() == 1024


def _autocast_codes(model, records, transform) -> torch.Tensor:
    """Codes of the same images computed under float16 autocast on CUDA (AMP, as training steps use it).
    fghash's saved codes always come from float32 (core.encoding.encode); this measures how many bits AMP encoding
    would flip. On the CPU dry run (FGHASH_CUDA_TESTS_DEVICE=cpu) there is no AMP: float32 there."""
    from core.data.dataset import ImageDataset
    from core.search.codes import to_pm1

    images = torch.stack([ImageDataset(records, transform, substitute="blank")[i][0] for i in range(len(records))])
    device = torch.device(DEVICE)
    model.eval()
    with torch.inference_mode(), torch.autocast(device_type=device.type, dtype=torch.float16,
                                                enabled=device.type == "cuda"):
        outputs = torch.cat([model.encode(batch.to(device)).float().cpu() for batch in images.split(64)])
    return to_pm1(outputs)  # the sign, with encode_records' convention (0 -> +1)


def test_amp_codes_equal_float32_codes_on_99_percent_of_bits():
    """Train briefly on the GPU, then encode the test split with AMP (float16) and in float32 (GPU and CPU):
    at least 99 % of the bits agree (a sign flips only for outputs within float16 rounding of 0)."""
    from core.data.registry import load_dataset
    from core.data.transforms import eval_transform

    cfg = _cuda_cfg("adsh", epochs=2)
    finished = list(engine.train(cfg))[-1]
    assert finished.status == "finished"
    run = engine.open_run(finished.run_id)
    records = load_dataset("demo", None).split("test")
    transform = eval_transform(cfg.image_size, cfg.resize_size)
    codes = {}
    for name, device in (("fp32", DEVICE), ("cpu", "cpu")):
        model, _ = load_run_model(run, device)
        if device.startswith("cuda"):
            model.to(memory_format=torch.channels_last)
        codes[name] = drain(encode_records(model, records, transform, torch.device(device), batch_size=64))
    codes["amp"] = _autocast_codes(load_run_model(run, DEVICE)[0], records, transform)
    agree_amp = (codes["amp"] == codes["fp32"]).float().mean().item()
    agree_cpu = (codes["fp32"] == codes["cpu"]).float().mean().item()
    assert agree_amp >= 0.99, agree_amp
    assert agree_cpu >= 0.99, agree_cpu


def test_gpu_map_equals_cpu_map():
    qc, dc, ql, dl = _random_case(500, 20000, 48, 100, 11)
    assert map_all(qc, dc, ql, dl, device=DEVICE) == pytest.approx(map_all(qc, dc, ql, dl, device="cpu"), abs=1e-12)
    cpu = summarize(qc, dc, ql, dl, ks=(10, 100), device="cpu")
    gpu = summarize(qc, dc, ql, dl, ks=(10, 100), device=DEVICE)
    np.testing.assert_allclose(np.asarray(gpu.per_query_ap), np.asarray(cpu.per_query_ap), rtol=0, atol=1e-12)
    for k in (10, 100):
        assert gpu.map_at_k[k] == pytest.approx(cpu.map_at_k[k], abs=1e-12)
        assert gpu.precision_at_k[k] == pytest.approx(cpu.precision_at_k[k], abs=1e-12)


def test_gpu_topk_search_equals_cpu():
    """The torch top-k Hamming search on the GPU returns exactly the CPU's (distance, index) lists."""
    from core.search.torch_search import hamming_topk

    gen = torch.Generator().manual_seed(4)
    database = torch.randint(0, 2, (50000, 24), generator=gen).float() * 2 - 1  # 24 bits: many ties
    queries = torch.randint(0, 2, (300, 24), generator=gen).float() * 2 - 1
    cpu = hamming_topk(queries, database, 100, device="cpu")
    gpu = hamming_topk(queries, database, 100, device=DEVICE)
    np.testing.assert_array_equal(gpu.distances, cpu.distances)
    np.testing.assert_array_equal(gpu.indices, cpu.indices)


def test_training_in_a_child_process_on_cuda():
    """The app's way to train (core/training/child.py): a spawned child trains on the GPU and its events
    reach this process as plain floats (no tensor, so the app never touches the child's CUDA memory)."""
    import multiprocessing

    from test_child_training import holds_tensor

    events, finished = events_and_result(engine.train_in_child(_cuda_cfg("adsh")))
    assert isinstance(finished, TrainFinished) and finished.status == "finished", finished
    losses = [e.loss for e in events if isinstance(e, BatchEnd)]
    assert losses and all(isinstance(x, float) and math.isfinite(x) for x in losses)
    assert not any(holds_tensor(e) for e in events)
    assert not [p for p in multiprocessing.active_children() if p.name == "fghash-training"]

