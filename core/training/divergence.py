"""Stop a diverged run: a non-finite loss or non-finite weights end training with a one-line error.

The training driver feeds every batch's loss to a FiniteLossGuard. On the CPU (check_every=1) the guard
checks each loss at once. On an accelerator it keeps the loss tensors since the last check on the device
and looks at them together every `check_every` batches, so training does not wait for the device after
every step; when a check finds a non-finite value it names the first such batch. The driver also calls
`check()` at the end of every epoch and `refuse_non_finite_state` before writing a checkpoint, so a
checkpoint never holds NaN/Inf weights and the last finite checkpoint is what `--resume` continues from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from core.base.errors import RunError

DEVICE_CHECK_EVERY = 50  # batches between host-side checks of losses that live on an accelerator


class TrainingDiverged(RunError):
    """The loss or the weights became NaN or infinite; the message names where and the likely causes."""


class FiniteLossGuard:
    """Collects per-batch losses and raises TrainingDiverged at the first non-finite one.

    observe(loss, epoch, batch): loss is a Python float (checked at once) or a 0-dim tensor (kept on its
    device until check_every of them are waiting); check(): looks at every loss not yet checked (one host
    sync for the whole window).
    """

    def __init__(self, hint: str, check_every: int = DEVICE_CHECK_EVERY) -> None:
        self.hint = hint  # the settings worth changing, e.g. "--lr 0.001, --image-size 32"
        self.check_every = max(1, check_every)
        self.checkpointed_epoch = 0  # the newest checkpoint's epoch (0 = none yet); the driver keeps it current
        self._window: list[tuple[int, int, torch.Tensor]] = []  # (epoch, batch, detached 0-dim loss)

    def observe(self, loss: float | torch.Tensor, epoch: int, batch: int) -> None:
        if not isinstance(loss, torch.Tensor):
            if not math.isfinite(loss):
                self._diverged(loss, epoch, batch)
            return
        self._window.append((epoch, batch, loss.detach().reshape(())))
        if len(self._window) >= self.check_every:
            self.check()

    def check(self) -> None:
        if not self._window:
            return
        window, self._window = self._window, []
        finite = torch.isfinite(torch.stack([loss for _, _, loss in window]).float())
        if bool(finite.all()):  # the one host sync for the whole window
            return
        first = int((~finite).nonzero()[0])
        epoch, batch, loss = window[first]
        self._diverged(float(loss), epoch, batch)

    def _diverged(self, value: float, epoch: int, batch: int) -> None:
        raise diverged(f"the loss became {value} at epoch {epoch}, batch {batch}", self.hint, self.checkpointed_epoch)

    def refuse_non_finite_state(self, tensors: Mapping[str, torch.Tensor], epoch: int) -> None:
        """TrainingDiverged when any floating-point tensor of a training state (weights, optimiser buffers,
        method state such as ADSH's V) holds NaN or Inf: such a state must never become a checkpoint."""
        bad = [name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            raise diverged(f"after epoch {epoch}, {len(bad)} tensor(s) of the training state hold NaN or Inf "
                           f"(e.g. {bad[0]})", self.hint, self.checkpointed_epoch)


def diverged(what: str, hint: str, checkpointed_epoch: int) -> TrainingDiverged:
    """The one-line error: what went non-finite where, the likely causes, and what is kept."""
    kept = (f"the last finite checkpoint (epoch {checkpointed_epoch}) is kept and `fghash train --resume` continues "
            f"from it" if checkpointed_epoch else "no checkpoint had been written yet")
    return TrainingDiverged(f"training diverged: {what}; the usual causes are a learning rate too high or images too "
                            f"small for the network ({hint}): start a new run with a lower --lr or a larger "
                            f"--image-size; {kept}")
