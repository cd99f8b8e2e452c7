"""The whole run's remaining time: the training batches left plus the evaluations (and final encoding) left.

A run's time is not only batches: every evaluation encodes the test queries (and, for methods that encode
their database, the training split) and computes the metrics, and the end of the run saves codes. The
clock measures each kind separately on this run:
- seconds per training batch: the mean over the batches of this process so far (resumed runs measure
  afresh; the batches skipped by a mid-epoch resume do not count);
- seconds per evaluation: the mean of the evaluations measured so far; before the first one, an estimate
  from the training speed: encoding an image costs about a third of training on it (a forward pass
  against forward + backward), so an evaluation of q queries and an encoded database of n images is
  (q + n) / 3 training images' time. The estimate is replaced as soon as one evaluation is measured, and
  `Eta.measured` says which it is.
The ETA names the phase being timed (training, or the evaluation phase under way) and how many
evaluations it includes, so a user can tell what it counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

FORWARD_SHARE = 1 / 3  # encoding an image ~ a forward pass ~ a third of a training step's forward + backward


@dataclass(frozen=True)
class Eta:
    """Seconds left for the whole run, split into training and evaluation; phase: what runs now."""

    seconds: float
    training_s: float
    evaluation_s: float
    evaluations_left: int
    phase: str
    measured: bool  # False while the evaluation time is still estimated from the training speed

    def describe(self) -> str:
        """'3:02 left (training; then 3 evaluations, ~0:41 measured)'."""
        if self.evaluations_left:
            how = "measured" if self.measured else "estimated"
            evals = (f"; then {self.evaluations_left} evaluation{'s' if self.evaluations_left > 1 else ''}, "
                     f"~{format_seconds(self.evaluation_s)} {how}")
        else:
            evals = ""
        return f"{format_seconds(self.seconds)} left ({self.phase}{evals})"


def format_seconds(seconds: float | None) -> str:
    """h:mm:ss or m:ss; '?' for None."""
    if seconds is None:
        return "?"
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunClock:
    """Measures a run's batches and evaluations and estimates the time left (see the module docstring).

    epochs: the run's epochs; eval_every: its evaluation period (an evaluation also after the last epoch);
    eval_images: images encoded per evaluation (queries, plus the database for methods that encode it);
    batch_size: images per training batch."""

    def __init__(self, epochs: int, eval_every: int, eval_images: int, batch_size: int) -> None:
        self.epochs, self.eval_every = int(epochs), max(1, int(eval_every))
        self.eval_images, self.batch_size = int(eval_images), max(1, int(batch_size))
        self.batch_seconds = 0.0
        self.batches = 0
        self.eval_seconds: list[float] = []
        self._eval_start: float | None = None

    def batch_done(self, seconds: float) -> None:
        self.batch_seconds += max(0.0, float(seconds))
        self.batches += 1

    def evaluation_started(self) -> None:
        self._eval_start = time.perf_counter()

    def evaluation_done(self) -> None:
        if self._eval_start is not None:
            self.eval_seconds.append(time.perf_counter() - self._eval_start)
            self._eval_start = None

    def evaluations_after(self, epoch: int, include_current: bool) -> int:
        """Evaluations due at epochs > `epoch` (plus `epoch`'s own when include_current)."""
        first = epoch if include_current else epoch + 1
        return sum(1 for e in range(max(1, first), self.epochs + 1) if e % self.eval_every == 0 or e == self.epochs)

    def eta(self, batches_left: int, evaluations_left: int, phase: str, phase_left_s: float = 0.0) -> Eta | None:
        """The ETA given what is left; None before any batch is measured (nothing to go on yet).

        phase_left_s: the measured time left of the phase under way (an evaluation's encoding)."""
        if self.batches == 0 and not self.eval_seconds:
            return None
        per_batch = self.batch_seconds / self.batches if self.batches else 0.0
        measured = bool(self.eval_seconds)
        if measured:
            per_eval = sum(self.eval_seconds) / len(self.eval_seconds)
        else:
            per_eval = per_batch / self.batch_size * self.eval_images * FORWARD_SHARE
        training = per_batch * max(0, batches_left)
        evaluation = per_eval * max(0, evaluations_left) + max(0.0, phase_left_s)
        return Eta(training + evaluation, training, evaluation, max(0, evaluations_left), phase, measured)
