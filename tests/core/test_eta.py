"""core.training.eta: the run's time left counts the evaluations, and says what it counts."""

from __future__ import annotations

import pytest

from core.training.eta import FORWARD_SHARE, RunClock, format_seconds


def test_estimates_evaluations_from_training_until_one_is_measured():
    clock = RunClock(epochs=4, eval_every=2, eval_images=300, batch_size=10)
    assert clock.eta(10, 2, "training") is None  # nothing measured yet
    for _ in range(4):
        clock.batch_done(0.5)
    # 10 batches at 0.5 s; an evaluation = 300 images / 10 per batch x 0.5 s x 1/3
    eta = clock.eta(10, 2, "training")
    assert eta.training_s == pytest.approx(5.0)
    assert eta.evaluation_s == pytest.approx(2 * 300 / 10 * 0.5 * FORWARD_SHARE)
    assert eta.seconds == pytest.approx(eta.training_s + eta.evaluation_s) and not eta.measured
    assert eta.describe() == "0:15 left (training; then 2 evaluations, ~0:10 estimated)"
    clock.eval_seconds.append(30.0)  # one measured evaluation replaces the estimate
    eta = clock.eta(0, 1, "encode queries", phase_left_s=4.0)
    assert eta.evaluation_s == pytest.approx(34.0) and eta.measured
    assert eta.describe() == "0:34 left (encode queries; then 1 evaluation, ~0:34 measured)"


def test_counts_the_evaluations_of_the_schedule():
    clock = RunClock(epochs=5, eval_every=2, eval_images=1, batch_size=1)
    assert clock.evaluations_after(0, include_current=False) == 3  # epochs 2, 4 and the last, 5
    assert clock.evaluations_after(2, include_current=True) == 3
    assert clock.evaluations_after(2, include_current=False) == 2
    assert clock.evaluations_after(5, include_current=False) == 0
    assert format_seconds(3725) == "1:02:05" and format_seconds(None) == "?"
