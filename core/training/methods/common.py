"""Pieces every method shares: the SGD step with AMP on CUDA, the LR schedule, resumable state,
deterministic per-epoch random generators, throughput timing, and the lazy reading of batch losses.

A method builds one NetworkStepper for its model and calls:
    images = stepper.to_device(images)
    with stepper.autocast(): out = model(images)
    stepper.step(loss, share)       # zero_grad + (scaled) backward + optimiser step; the global-batch loss
    stepper.end_epoch()             # MultiStep LR on the method's outer unit (TrainConfig.lr_milestones)
and puts stepper.state_tensors() into its own state_tensors(). The driver logs stepper.take_notes()
(what TrainConfig.compile_step did, and any fallback to eager).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from core.base.events import BatchEnd, Event, Log
from core.base.state_pack import pack_state, select, unpack_state
from core.config.train_config import TrainConfig
from core.data.loader import loader_batches
from core.runtime import distributed
from core.runtime.device import uses_amp

# Device types on which TrainConfig.compile_step="auto" compiles the step: where a GPU run of bench/gpu_check.sh
# (its "compile" step, ADSH at batch 64) measured reduce-overhead faster than eager. None has been measured yet,
# so "auto" stays eager everywhere; add "cuda" here only with the figure in bench/README.md.
COMPILE_WINS_ON: frozenset[str] = frozenset()

# The model entry points a method calls (FCAENet's anchor + positive pass uses forward_with_features); a model
# whose entry point keeps Python state lists the pure parts instead in its `compile_entry_points`.
_COMPILED_ENTRY_POINTS = ("forward", "forward_with_features")


class _EagerFallback:
    """A compiled model entry point that, on the first torch.compile failure (dynamo or its backend, raised
    while tracing / compiling, before the graph runs), switches for good to the eager function and leaves
    one note saying why. Errors of the computation itself (e.g. CUDA out of memory) pass through."""

    def __init__(self, compiled, eager, name: str, notes: list[Log]) -> None:
        self.compiled, self.eager, self.name, self.notes = compiled, eager, name, notes

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except torch._dynamo.exc.TorchDynamoException as exc:
                self.compiled = None
                reason = (str(exc).strip().splitlines() or [""])[0][:200]
                self.notes.append(Log(f"compile_step: the model's {self.name} could not be compiled "
                                      f"({type(exc).__name__}: {reason}); it runs eager", "warning"))
        return self.eager(*args, **kwargs)


class NetworkStepper:
    """SGD (momentum, weight decay) + MultiStepLR + GradScaler; channels_last and AMP on CUDA only.

    On CUDA also: cudnn.benchmark (fixed input shapes: the fastest convolution algorithms are picked once)
    and the foreach SGD kernels (a few launches for all parameters). Not fused SGD: with a GradScaler,
    torch (2.11, seen on an H200) hands the overflow check to the fused kernel, which still advances the
    momentum buffers on a step the scaler skips; the float16 overflows of the first steps then put
    garbage into momentum and FCAENet / Multi-FusNet diverged within one epoch. The CPU keeps torch's
    default per-parameter loop, so CPU results stay bit-identical to earlier versions (resume tests
    compare runs bit for bit).
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, device: torch.device,
                 params: list | None = None, nesterov: bool = False) -> None:
        self.model = model
        self.device = device
        self.amp = uses_amp(device, cfg.amp)
        self.channels_last = bool(cfg.channels_last) and device.type == "cuda"
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.optimizer = torch.optim.SGD(
            params if params is not None else model.parameters(),
            lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
            # cfg.nesterov (SEMICON, AGMH), or a method whose official optimiser always uses it (HashNet);
            # torch refuses Nesterov without momentum
            nesterov=(nesterov or cfg.nesterov) and cfg.momentum > 0,
            **self._kernel_options(),
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(cfg.lr_milestones), gamma=cfg.lr_gamma
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp)
        self.image_size = cfg.image_size
        self.seed = cfg.seed
        self._augment_generator: torch.Generator | None = None
        self._notes: list[Log] = []
        self.compiled = False
        if cfg.compile_step == "reduce-overhead" and device.type != "cuda":
            self._notes.append(Log(f"compile_step reduce-overhead captures CUDA graphs (CUDA only): this "
                                   f"{device.type} run is eager"))
        elif cfg.compile_step == "reduce-overhead" or (cfg.compile_step == "auto" and
                                                        device.type in COMPILE_WINS_ON):
            self.compile_network()
            self._notes.append(Log(f"compile_step {cfg.compile_step}: the model's forward and backward are "
                                   "compiled with torch.compile(mode='reduce-overhead') (CUDA graphs); the first "
                                   "steps compile"))

    def compile_network(self, backend: str = "inductor", mode: str | None = "reduce-overhead") -> None:
        """Compile the model's entry points in place (the module, its parameters and state_dict unchanged).

        mode applies to the inductor backend only; tests compile on the CPU with backend="aot_eager" (the same
        autograd graphs without inductor's slow code generation) and mode=None. A failure to compile falls
        back to eager for that entry point, with a note (take_notes)."""
        options = {"backend": backend, **({"mode": mode} if backend == "inductor" and mode else {})}
        for name in getattr(self.model, "compile_entry_points", _COMPILED_ENTRY_POINTS):
            eager = getattr(self.model, name, None)
            if eager is not None:
                setattr(self.model, name, _EagerFallback(torch.compile(eager, **options), eager, name, self._notes))
        self.compiled = True

    def take_notes(self) -> list[Log]:
        """Log events about the step (compile decisions, fallbacks) since the last call."""
        notes, self._notes = self._notes, []
        return notes

    def _kernel_options(self) -> dict[str, bool | None]:
        """foreach=True on CUDA (never fused: see the class docstring); the CPU keeps torch's defaults."""
        return {"foreach": True} if self.device.type == "cuda" else {}

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """A batch on the training device (channels-last on CUDA). uint8 batches (TrainConfig.data_cache)
        are cropped, flipped and normalised there (core.data.gpu_augment) from a device generator seeded
        with cfg.seed (under torchrun, rank r > 0 with rank_generator's seed for (cfg.seed, r), so ranks draw
        their own crops); its state is not checkpointed, so a resumed cached run is not bit-exact."""
        images = images.to(self.device, non_blocking=True)
        if images.dtype == torch.uint8:
            from core.data.gpu_augment import random_resized_crop_flip

            if self._augment_generator is None:
                seed = self.seed if distributed.current().rank == 0 else \
                    rank_generator(self.seed, _GPU_AUGMENT_KEY).initial_seed()
                self._augment_generator = torch.Generator(self.device).manual_seed(seed)
            images = random_resized_crop_flip(images, self.image_size, self._augment_generator)
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.float16)

    def step(self, loss: torch.Tensor, share: float = 1.0) -> torch.Tensor:
        """One optimiser step; returns the loss of the whole global batch (detached).

        share: this process's fraction of the global batch under torchrun (core.runtime.distributed.shard_batches);
        the gradients are then averaged over the processes with these weights before the step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        total = distributed.reduce_gradients(params, loss, share)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.compiled and self.device.type == "cuda":
            # CUDA graphs reuse their output memory: what the next forward overwrites belongs to this step
            torch.compiler.cudagraph_mark_step_begin()
        return total

    def end_epoch(self) -> None:
        with warnings.catch_warnings():
            # A resume whose every batch of the epoch was done before Stop steps the scheduler without an
            # optimiser step in this process; the schedule is by epoch, so that order is the right one.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            self.scheduler.step()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in self.model.state_dict().items()}
        out.update(pack_state("optim", self.optimizer.state_dict()))
        out.update(pack_state("sched", self.scheduler.state_dict()))
        out.update(pack_state("scaler", self.scaler.state_dict()))
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(select("model", tensors), strict=True)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer.load_state_dict(unpack_state("optim", tensors))
        for group in self.optimizer.param_groups:  # a checkpoint from another device keeps this one's kernel
            group.update({"fused": None, "foreach": None, **self._kernel_options()})
        self.scheduler.load_state_dict(unpack_state("sched", tensors))
        scaler_state = unpack_state("scaler", tensors)
        if scaler_state:  # a disabled scaler saves {}; loading it into an enabled one is a no-op
            self.scaler.load_state_dict(scaler_state)


def train_images(cfg: TrainConfig, records, transform):
    """The training split as a Dataset of (image, label, index): PIL decoding + `transform` per item, or,
    with cfg.data_cache, the uint8 cache (built here if the driver did not build it already) whose
    batches NetworkStepper.to_device augments on the device."""
    if not cfg.data_cache:
        from core.data.dataset import ImageDataset

        return ImageDataset(records, transform)
    from core.data.decoded_cache import ensure_decoded
    from core.encoding.encode import drain

    return drain(ensure_decoded(records, cfg.resize_size, num_workers=cfg.num_workers))


def epoch_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU torch.Generator seeded from (seed, *keys): each epoch's sampling and order depend only on
    these numbers, so a resumed run draws exactly what an uninterrupted one would."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(int(k) for k in keys)).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


_GPU_AUGMENT_KEY = 4  # rank_generator key of the device augmentation (0-3 are the methods' epoch streams)
_RANK_KEY = 0x52414E4B  # "RANK": appended with the rank, keeps per-rank streams apart from every shared one


def rank_generator(seed: int, *keys: int) -> torch.Generator:
    """epoch_generator(seed, *keys) made this process's own under torchrun, for draws that must differ between
    ranks (augmentation, Multi-FusNet's zoom): rank 0, and a single process, keep the single-process stream;
    rank r > 0 draws from (seed, *keys, r). Draws every rank must share (batch order, ADSH's samples,
    FCAENet's positives) use epoch_generator."""
    rank = distributed.current().rank
    return epoch_generator(seed, *keys) if rank == 0 else epoch_generator(seed, *keys, _RANK_KEY, rank)
def batches_until_cancel(loader, cancel, start: int = 0) -> Iterator[tuple[int, object]]:
    """(index, batch) pairs of `loader`, indices from `start`; `cancel` is checked BEFORE each batch is
    fetched, so after a Stop no augmentation of an untrained batch has drawn from the RNG: the saved RNG
    state is where the next batch begins, which is what a mid-epoch resume replays (exactly with
    num_workers = 0; loader workers seed per worker, so with workers the augmentations differ)."""
    batches = loader_batches(loader)  # stops loader workers promptly on errors and on close()
    try:
        index = start
        while not cancel.is_set():
            try:
                batch = next(batches)
            except StopIteration:
                return
            yield index, batch
            index += 1
    finally:
        batches.close()


class Throughput:
    """images/s of the last batch interval (wall clock, including data loading)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def tick(self, images: int) -> float:
        now = time.perf_counter()
        rate = images / max(now - self._last, 1e-9)
        self._last = now
        return rate


class LazyBatchLosses:
    """Turns the 0-dim tensors a method puts in BatchEnd.loss / loss_terms into floats without a device
    synchronisation per batch.

    On CUDA, reading a loss (float(loss)) waits for the GPU to finish the step, so the host cannot queue
    the next one meanwhile. Methods therefore yield detached tensors; this buffer holds BatchEnd events
    whose values live on a GPU and converts them all with one copy once `interval_s` has passed since the
    last conversion (and before any other event, and at the end of the epoch: flush()). Consumers see
    the same events, in the same order, with floats, at most `interval_s` late. Values already on the
    CPU (or floats) are converted at once, so the CPU path is unchanged.
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self._pending: list[BatchEnd] = []
        self._last = time.perf_counter()

    def push(self, event: Event) -> Iterator[Event]:
        """Events ready for the consumer after `event` arrived (in order; possibly none)."""
        if isinstance(event, BatchEnd) and _on_device(event):
            self._pending.append(event)
            if time.perf_counter() - self._last < self.interval_s:
                return
            yield from self.flush()
            return
        yield from self.flush()
        yield _as_floats(event, None) if isinstance(event, BatchEnd) else event

    def flush(self) -> Iterator[BatchEnd]:
        """Every held event, converted with one device-to-host copy."""
        self._last = time.perf_counter()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        values = [v for e in pending for v in _tensor_values(e)]
        floats = iter(torch.stack([v.detach().to(torch.float64) for v in values]).tolist())
        for event in pending:
            yield _as_floats(event, floats)


def _tensor_values(event: BatchEnd) -> list[torch.Tensor]:
    return [v for v in (event.loss, *event.loss_terms.values()) if isinstance(v, torch.Tensor)]


def _on_device(event: BatchEnd) -> bool:
    return any(v.device.type != "cpu" for v in _tensor_values(event))


def _as_floats(event: BatchEnd, floats: Iterator[float] | None) -> BatchEnd:
    """event with every tensor value replaced: by the next of `floats`, or by float(tensor)."""
    def convert(v):
        if not isinstance(v, torch.Tensor):
            return v
        return next(floats) if floats is not None else float(v)

    loss = convert(event.loss)
    terms = {k: convert(v) for k, v in event.loss_terms.items()}
    return dataclasses.replace(event, loss=loss, loss_terms=terms)
