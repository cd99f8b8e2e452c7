"""TrainConfig.compile_step: the compiled training step equals the eager one, and falls back cleanly.

On CUDA the stepper compiles with inductor's mode="reduce-overhead" (CUDA graphs); its speed is measured by
bench/gpu_check.sh, not here. On the CPU the same entry points are compiled with backend="aot_eager" (the
autograd graphs torch.compile builds, without inductor's slow code generation), which is what can go wrong
in the methods' own code: FCAENet's three views in two calls (forward_with_features on anchor + positive,
forward on the SREM-erased view) and Multi-FusNet's two passes (the image, then its saliency zoom).
"""

from __future__ import annotations

import pytest
import torch

from core.base.errors import ConfigError
from core.config.train_config import AdshOptions, FcaeOptions, MultiFusOptions, TrainConfig, validate
from core.data.registry import load_dataset
from core.training.methods.asymmetric import SampledSimilarity
from core.training.methods.common import NetworkStepper, epoch_generator
from core.training.methods.registry import make_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(method: str, **changes) -> TrainConfig:
    base = dict(method=method, backbone="resnet18", weights="none", image_size=32, resize_size=36, bits=12,
                batch_size=6, epochs=1, lr=0.05, lr_milestones=(), device="cpu", seed=3,
                adsh=AdshOptions(num_samples=24, inner_epochs=1), fcae=FcaeOptions(srem_regions=4, srem_size=4),
                multifus=MultiFusOptions(cascade_mid_channels=8, cascade_out_channels=16, attention_heads=2,
                                         attention_mlp_dim=16))
    base.update(changes)
    return TrainConfig(**base)


def _one_step(method_name: str, compile_backend, steps: int = 1, **changes) -> tuple[float, dict, dict, object]:
    """(the last loss, its gradients, the weights after the last step, the method) of `steps` training steps
    on fixed batches (a new one each step); `changes` go into the config (tests/core/test_cuda.py: device)."""
    torch.manual_seed(0)
    cfg = _cfg(method_name, **changes)
    device = torch.device(cfg.device)
    method = make_method(cfg, load_dataset("demo", None), device)
    if compile_backend is not None:
        method.stepper.compile_network(backend=compile_backend, mode=None)
    method.model.train()
    g = torch.Generator().manual_seed(1)
    zoom_gen = epoch_generator(0, 1, 3)
    size = method.cfg.image_size
    for _ in range(steps):
        images, positives = torch.randn(6, 3, size, size, generator=g), torch.randn(6, 3, size, size, generator=g)
        labels, index = torch.arange(6) % 3, torch.arange(6)
        if method_name == "multifusnet":
            loss = method._batch_loss(images, labels, index, zoom_gen).total
        elif method_name == "hashnet":
            loss = method._batch_loss(images, labels)
        else:
            sim = SampledSimilarity.build(torch.arange(24, device=device), method.db_labels_device)
            batch = {"image": images, "positive": positives, "label": labels, "db_index": index}
            _, loss, _ = method._batch_loss(batch, sim)
        method.stepper.step(loss)
    params = dict(method.model.named_parameters())
    grads = {k: p.grad.clone() for k, p in params.items() if p.grad is not None}
    return float(loss.detach()), grads, {k: v.detach().clone() for k, v in method.model.state_dict().items()}, method


@pytest.mark.parametrize("method_name", ["fcaenet", "multifusnet", "hashnet"])
def test_compiled_step_equals_eager(method_name):
    """Same loss, gradients and weights (BN statistics included) after one step, compiled vs eager; the
    compiled graphs did run (a compile counter saw frames) and nothing fell back to eager. HashNet compiles
    its pre-activation only (its forward advances a host-side counter): its iteration buffer still counts."""
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    counter = CompileCounterWithBackend("aot_eager")
    loss_e, grads_e, weights_e, _ = _one_step(method_name, None)
    loss_c, grads_c, weights_c, method = _one_step(method_name, counter)
    assert counter.frame_count >= 1
    assert method.stepper.take_notes() == []  # no fallback
    assert loss_c == pytest.approx(loss_e, rel=1e-4, abs=1e-6)
    assert grads_c.keys() == grads_e.keys() and len(grads_e) > 10
    for k in grads_e:
        torch.testing.assert_close(grads_c[k], grads_e[k], rtol=1e-3, atol=1e-5, msg=lambda m: f"grad {k}: {m}")
    if method_name == "hashnet":
        assert int(method.model.iter_num) == 1
    assert weights_c.keys() == weights_e.keys()
    for k in weights_e:
        torch.testing.assert_close(weights_c[k], weights_e[k], rtol=1e-4, atol=1e-6, msg=lambda m: f"{k}: {m}")
    torch._dynamo.reset()


def test_compile_failure_falls_back_to_eager_with_one_note():
    """A backend that cannot compile: the step still runs (eager), with one warning per entry point used."""
    def broken_backend(gm, example_inputs):
        raise RuntimeError("this backend compiles nothing")

    torch._dynamo.reset()
    loss_e, _, weights_e, _ = _one_step("fcaenet", None)
    loss_c, _, weights_c, method = _one_step("fcaenet", broken_backend)
    notes = method.stepper.take_notes()
    assert [n.level for n in notes] == ["warning", "warning"]  # forward_with_features, then forward
    assert all("could not be compiled" in n.message and "runs eager" in n.message for n in notes)
    assert loss_c == loss_e and all(torch.equal(weights_c[k], weights_e[k]) for k in weights_e)
    assert method.stepper.take_notes() == []
    torch._dynamo.reset()


def test_compile_step_decision_and_validation():
    """auto is eager everywhere until a GPU run measures a win; reduce-overhead off CUDA is eager with a note;
    an unknown value is a ConfigError."""
    model = torch.nn.Linear(4, 2)
    for mode in ("off", "auto"):
        stepper = NetworkStepper(model, _cfg("adsh", compile_step=mode), torch.device("cpu"))
        assert not stepper.compiled and stepper.take_notes() == []
    stepper = NetworkStepper(model, _cfg("adsh", compile_step="reduce-overhead"), torch.device("cpu"))
    notes = stepper.take_notes()
    assert not stepper.compiled and len(notes) == 1 and "CUDA only" in notes[0].message
    assert "forward" not in vars(model)  # the model is untouched
    with pytest.raises(ConfigError, match="compile_step"):
        validate(_cfg("adsh", compile_step="max-autotune"))


def test_training_log_says_what_compile_step_did():
    """Through the engine: compile_step reduce-overhead on the CPU trains eager and the log says so, once."""
    from core import engine
    from core.base.events import Log, TrainFinished

    events = list(engine.train(_cfg("adsh", compile_step="reduce-overhead", eval_every=1)))
    assert isinstance(events[-1], TrainFinished) and events[-1].status == "finished"
    notes = [e.message for e in events if isinstance(e, Log) and "compile_step" in e.message]
    assert len(notes) == 1 and "CUDA only" in notes[0] and "eager" in notes[0]


def test_compile_step_is_neither_a_variant_nor_a_cell_identity():
    """Runs differing only in compile_step (an old run read as "off", a new one at "auto") are one seed group
    and no variant label names it, and a study cell's hash does not depend on it."""
    from core.evaluation.seed_groups import group_by_seed
    from core.studies.grid import config_hash

    old, new = _cfg("adsh", compile_step="off", seed=1), _cfg("adsh", compile_step="auto", seed=2)
    groups = group_by_seed([("r1", old), ("r2", new)])
    assert len(groups) == 1 and "compile" not in groups[0].variant and groups[0].seeds == (1, 2)
    assert config_hash(old) == config_hash(_cfg("adsh", compile_step="reduce-overhead", seed=1))
