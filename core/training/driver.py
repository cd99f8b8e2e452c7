"""The training driver: a generator of core.base.events for any HashingMethod (the CLI and the GUI drive it).

    gen = train(cfg, cancel=threading.Event())
    for event in gen: ...            # BatchEnd, EpochEnd, EvalResult, CheckpointSaved, Log, Progress
    # the last event is TrainFinished (also the generator's return value)

Per epoch (an outer iteration for ADSH methods): the method's batches, then EpochEnd, an evaluation
every cfg.eval_every epochs and after the last (query = test split encoded by the network, database =
method.encode_database()), metrics to metrics.jsonl and the store, and a checkpoint. The reported number
is the final model's test mAP; with a validation split (core/training/validation.py) each evaluation also scores
the validation queries against the same database, and the best epoch on validation is reported with its
test mAP (its checkpoint is kept). Nothing is ever selected on the test split. Cancel is checked
by the method between batches. Stop keeps the work done: cancelled inside an epoch, the state after the
last finished batch becomes the run's partial checkpoint (core/runs/partial.py), from which Resume replays
the epoch's seeded batch order and continues at the next batch; cancelled during an epoch's evaluation, the
epoch's checkpoint is written without it, and a Resume that has nothing left to train evaluates first.
At the end (or at cancel after at least one completed epoch) the query and database codes are saved.
Resume continues after the newest checkpoint with every RNG state restored, so on the CPU it reproduces the
uninterrupted run exactly, mid-epoch too with num_workers = 0 (loader workers draw their augmentations per
worker, so with workers a mid-epoch resume trains the same batches in the same order, augmented afresh).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np
import torch

from core.base.errors import Cancelled, RunError
from core.base.events import (
    BatchEnd,
    BestOnValidation,
    CheckpointSaved,
    EpochEnd,
    EpochStart,
    EvalResult,
    Event,
    Log,
    Progress,
    TrainFinished,
    ValidationResult,
)
from core.config.train_config import TrainConfig
from core.data.duplicates import duplicates_warning, find_cross_split_duplicates
from core.encoding.encode import encode_new_images, encode_run_codes, run_eval_transform
from core.runs.catalog import create_run, open_store, resolve_run
from core.runs.checkpoint import dataset_fingerprint, read_checkpoint, restore_rng, save_checkpoint
from core.runs.lock import RunLock, codes_lock
from core.runs.partial import ResumePoint, clear_partial, read_partial, save_partial
from core.runs.paths import RunPaths
from core.runs.rebuild import register_folder
from core.runs.store import RunStore
from core.runtime import distributed
from core.runtime.device import is_out_of_memory, out_of_memory_error, select_device
from core.search.codes import codes_path, load_codes, save_codes
from core.training import followers
from core.training.divergence import DEVICE_CHECK_EVERY, FiniteLossGuard
from core.training.eta import RunClock
from core.training.methods.adsh import AdshMethod
from core.training.methods.common import LazyBatchLosses
from core.training.validation import ValidationSplit, fingerprint_view, split_for_validation


def train(cfg: TrainConfig | None = None, *, cancel: threading.Event | None = None,
          resume: str | Path | RunPaths | None = None, store: RunStore | None = None,
          ) -> Generator[Event, None, TrainFinished]:
    """Train one run (one bit length); yields events and returns (and yields last) TrainFinished.

    resume: a run id / prefix / folder / RunPaths; its saved config is used (cfg may be None; if given,
    its method and bits must match). store: a RunStore to register in (default: the user's store).
    """
    if cfg is None and resume is None:
        raise ValueError("train() needs a config or a run to resume")
    own_store = store is None
    store = store or open_store()
    try:
        return (yield from _Run(cfg, cancel or threading.Event(), resume, store).run())
    finally:
        if own_store:
            store.close()


class _Run:
    def __init__(self, cfg, cancel, resume, store: RunStore) -> None:
        self.cancel = cancel
        self.store = store
        if resume is not None:
            self.paths = resume if isinstance(resume, RunPaths) else resolve_run(resume, store)
            saved = self.paths.load_config()
            if cfg is not None and (cfg.method, cfg.bits) != (saved.method, saved.bits):
                raise RunError(f"cannot resume {self.paths.run_id} ({saved.method}, {saved.bits} bits) "
                               f"with a {cfg.method} / {cfg.bits}-bit config")
            self.cfg = saved
            self.resuming = True
            if store.get(self.paths.run_id) is None:  # a run folder copied in by hand: index it first
                register_folder(store, self.paths)
            # The saved config wins (bit-exact continuation); say which given options are ignored.
            given = cfg.to_dict() if cfg is not None else {}
            self.ignored = sorted(k for k, v in given.items() if v != saved.to_dict().get(k))
        else:
            self.cfg = cfg
            self.paths = None
            self.resuming = False
            self.ignored = []
        self.final_map: float | None = None  # test mAP of the last evaluation: the reported number
        self.best_on_val: BestOnValidation | None = None  # only with a validation split
        self.validation: ValidationSplit | None = None
        self.database_cache: tuple[int, torch.Tensor] | None = None  # (epoch, codes) of the last evaluation
        self.query_cache: tuple[int, torch.Tensor] | None = None  # (epoch, codes) of the last evaluation
        self.skipped_reported = 0  # undecodable training images already announced in a Log
        self.loss_guard: FiniteLossGuard | None = None  # set in run() once the config is known
        self.evaluated_epoch = 0  # the last epoch whose evaluation ran (0: none yet)
        self.resume_point: ResumePoint | None = None  # where a Resume of this run would continue
        self.clock: RunClock | None = None  # the run's ETA (core/training/eta.py), made once the method is
        self.batches_per_epoch = 0  # as the method's BatchEnd events say (0 until the first batch)

    # ------------------------------------------------------------------------------------------
    def run(self) -> Generator[Event, None, TrainFinished]:
        from core.data.registry import load_dataset
        from core.training.methods.registry import make_method

        cfg = self.cfg
        device = select_device(cfg.device)
        self.loss_guard = FiniteLossGuard(self._divergence_hint(), check_every=1 if device.type == "cpu"
                                          else DEVICE_CHECK_EVERY)
        dataset = load_dataset(cfg.dataset_kind, cfg.dataset_root, allow_missing=cfg.allow_missing)
        # with model selection, the validation images leave the training split before the method sees it
        dataset, self.validation = split_for_validation(dataset, cfg)
        self.dataset = dataset
        self.fingerprint = dataset_fingerprint(fingerprint_view(dataset, self.validation))
        self.test_records = dataset.split("test")
        self.train_records = dataset.split("train")
        # a query that is a byte-identical copy of a database image under another name finds itself; the
        # metadata checks cannot see it, so compare the files (cheap: only same-size files are read)
        self.duplicates = find_cross_split_duplicates(dataset.records)
        # Build the network before creating the run folder: a bad weights path or backbone then
        # leaves no empty "failed" run behind.
        if cfg.data_cache:  # decoded once per dataset and size; later runs open the file
            from core.data.decoded_cache import ensure_decoded

            yield from ensure_decoded(self.train_records, cfg.resize_size, num_workers=cfg.num_workers,
                                      phase="decode train images")
        _seed_everything(cfg.seed)
        method = make_method(cfg, dataset, device)
        self.method = method
        if self.paths is None:
            self.paths = create_run(cfg, self.store)
        # Held until this generator ends; the OS drops it if the process dies, which is how the store
        # tells a killed run (interrupted) from a live one (core/runs/lock.py).
        lock = RunLock(self.paths.root)
        lock.acquire()
        try:
            return (yield from self._locked_run(method, dataset, device))
        finally:
            lock.release()

    def _locked_run(self, method, dataset, device) -> Generator[Event, None, TrainFinished]:
        cfg = self.cfg
        run_id = self.paths.run_id
        self.store.set_status(run_id, "running")
        status, message, completed = "failed", "", 0
        try:
            start = 0
            self.clock = RunClock(cfg.epochs, cfg.eval_every, len(self.test_records) + (
                len(self.train_records) if _encodes_database(method) else 0) + (
                len(self.validation.records) if self.validation is not None else 0), cfg.batch_size)
            if self.resuming:
                start = yield from self._restore(method)
                if self.ignored:
                    yield Log(f"resuming with the run's saved config; ignoring the given "
                              f"{', '.join(self.ignored)}", "warning")
                if start >= cfg.epochs:
                    yield Log(f"run {run_id} already completed its {cfg.epochs} epochs; saving its codes again")
                    if self.evaluated_epoch < start:  # Stop came during the last epoch's evaluation
                        yield from self._evaluate_and_record(start)
            completed = self.loss_guard.checkpointed_epoch = start
            # torchrun: the other processes get the config and this state here, then train in lockstep
            note = followers.start_followers(method, cfg, start, run_id)
            if note:
                yield Log(note)
            yield Log(f"training {cfg.method} {cfg.bits} bits on {dataset.kind} ({len(self.train_records)} train / "
                      f"{len(self.test_records)} test images) on {device}; run {run_id}"
                      + (f"; resuming after epoch {start}" if start else ""))
            yield from self._stepper_notes()
            if self.validation is not None:
                yield Log(f"model selection on validation queries: {self.validation.source}; the test split "
                          f"plays no part in it")
            if self.duplicates.pairs or self.duplicates.unreadable:
                yield Log(duplicates_warning(self.duplicates), "warning")
            status = "finished"
            self.resume_point = ResumePoint(completed, cfg.epochs)
            for epoch in range(start + 1, cfg.epochs + 1):
                yield from self._epoch(epoch)
                if self.cancel.is_set():
                    status = "cancelled"
                    yield from self._save_partial(epoch, completed)
                    break
                completed = epoch
                try:
                    yield from self._after_epoch(epoch)
                except Cancelled:  # cancelled while encoding for the evaluation: the epoch's training is kept
                    status = "cancelled"
                    yield from self._checkpoint(epoch)
                    yield Log(f"stopped during the evaluation of epoch {epoch}: its checkpoint is saved without "
                              f"the evaluation", "warning")
                    break
                self.resume_point = ResumePoint(completed, cfg.epochs)
            if completed >= 1:
                yield from self._save_codes(completed, status == "cancelled")
            message = {"finished": f"finished {completed} epoch(s)",
                       "cancelled": f"cancelled after {completed} complete epoch(s)"
                                    + self._partial_note() + f"; {self.resume_point.describe()}"}[status]
            if self.skipped_reported:
                message += f"; {self.skipped_reported} training image(s) could not be decoded and were replaced"
        except GeneratorExit:
            self._record_end("interrupted")  # the consumer dropped the generator
            raise
        except KeyboardInterrupt:
            self._record_end("interrupted")
            raise
        except BaseException as exc:
            if not self._record_end("failed"):
                raise self._deleted_error() from None
            self.store.set_maps(run_id, self.final_map, self.best_on_val)
            if is_out_of_memory(exc):
                raise out_of_memory_error(device, cfg.batch_size, cfg.image_size) from None
            raise
        self.store.set_status(run_id, status)
        self.store.set_maps(run_id, self.final_map, self.best_on_val)
        finished = TrainFinished(run_id=run_id, run_dir=str(self.paths.root), status=status,
                                 final_map=self.final_map, message=message, best_on_val=self.best_on_val)
        yield finished
        return finished

    def _record_end(self, status: str) -> bool:
        """Record how the run ended; False (and the store entry removed, so no ghost run is listed) when its
        folder was deleted while it trained."""
        if self.paths.config.is_file():
            self.store.set_status(self.paths.run_id, status)
            return True
        self.store.delete(self.paths.run_id)
        return False

    def _deleted_error(self) -> RunError:
        return RunError(f"run folder {self.paths.root} was deleted while it trained; training stopped and nothing "
                        f"more was written (its store entry is removed)")

    def _check_folder(self) -> None:
        """Before writing epoch results: a folder deleted by hand is not silently re-created by the writes."""
        if not self.paths.config.is_file():
            raise self._deleted_error()

    # ------------------------------------------------------------------------------------------
    def _stepper_notes(self) -> Generator[Event, None, None]:
        """The method's NetworkStepper notes (TrainConfig.compile_step's decision, a fallback to eager)."""
        stepper = getattr(self.method, "stepper", None)
        yield from stepper.take_notes() if stepper is not None else ()

    def _epoch(self, epoch: int) -> Generator[Event, None, None]:
        cfg = self.cfg
        t0 = last = time.perf_counter()
        losses: list[float] = []
        weighted_rate = lr = 0.0
        lazy = LazyBatchLosses()  # losses stay on the GPU until read in groups: no sync per batch
        yield EpochStart(epoch=epoch, epochs=cfg.epochs, step=int(getattr(self.method, "step_count", 0)),
                         unit="epoch" if _encodes_database(self.method) else "outer iteration",
                         resumed_at_batch=self.method.skip_batches)
        # Until the method counts its batches, the epoch has done exactly those it skips: a cancel before its
        # first batch (ExchNet's class centres come first) must not read the previous epoch's count.
        self.method.batches_done = self.method.skip_batches
        for event in self.method.train_epoch(epoch, self.cancel):
            if isinstance(event, BatchEnd):
                self.loss_guard.observe(event.loss, epoch, event.batch)
                now = time.perf_counter()
                dt, last = now - last, now
                weighted_rate += event.images_per_s * dt
                lr = event.lr
                self.clock.batch_done(dt)
                self.batches_per_epoch = event.batches_in_epoch
                remaining = (event.batches_in_epoch - event.batch) + (cfg.epochs - epoch) * event.batches_in_epoch
                eta = self.clock.eta(remaining, self.clock.evaluations_after(epoch, include_current=True), "training")
                event = dataclasses.replace(event, eta_s=eta.seconds if eta else None,
                                            eta_note=eta.describe() if eta else "")
            for ready in lazy.push(event):
                if isinstance(ready, BatchEnd):
                    losses.append(ready.loss)
                yield ready
        for ready in lazy.flush():
            losses.append(ready.loss)
            yield ready
        yield from self._stepper_notes()  # e.g. a compile fallback found by the epoch's first step
        if self.cancel.is_set():
            return
        self.loss_guard.check()  # every loss of a completed epoch is known finite before it is reported
        seconds = time.perf_counter() - t0
        self.epoch_stats = (float(np.mean(losses)) if losses else float("nan"), lr, seconds)
        self.epoch_rate = weighted_rate / max(seconds, 1e-9)  # training images per second (metrics.jsonl)
        eta = self.clock.eta(self.batches_per_epoch * (cfg.epochs - epoch),
                             self.clock.evaluations_after(epoch, include_current=True), "training")
        yield EpochEnd(epoch=epoch, epochs=cfg.epochs, mean_loss=self.epoch_stats[0], lr=lr, seconds=seconds,
                       images_per_s=weighted_rate / max(seconds, 1e-9),
                       eta_s=eta.seconds if eta else None, eta_note=eta.describe() if eta else "")

    def _after_epoch(self, epoch: int) -> Generator[Event, None, None]:
        self._check_folder()
        cfg = self.cfg
        mean_loss, lr, seconds = self.epoch_stats
        # Undecodable training images met so far (replaced by another image of their class): counted in
        # metrics.jsonl and the store every epoch, announced whenever the count grows.
        skipped = self.method.skipped_train_images()
        record = {"epoch": epoch, "loss": mean_loss, "lr": lr, "seconds": seconds, "images_per_s": self.epoch_rate,
                  "skipped_images": len(skipped)}
        if len(skipped) > self.skipped_reported:
            self.skipped_reported = len(skipped)
            shown = "; ".join(list(skipped.values())[:3]) + ("; ..." if len(skipped) > 3 else "")
            yield Log(f"{len(skipped)} training image(s) could not be decoded so far and were replaced by another "
                      f"image of the same class ({shown})", "warning")
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            yield from self._evaluate_and_record(epoch, record)
        else:
            self._record(epoch, record)
        yield from self._checkpoint(epoch)

    def _evaluate_and_record(self, epoch: int, record: dict | None = None) -> Generator[Event, None, None]:
        """Evaluate epoch `epoch` (and select on validation), then write its metrics record. Its time is
        measured for the ETA, and its Progress events carry the run's ETA naming the phase."""
        record = record if record is not None else {"epoch": epoch}
        self.clock.evaluation_started()
        later = self.clock.evaluations_after(epoch, include_current=False)
        batches_left = self.batches_per_epoch * (self.cfg.epochs - epoch)
        result = yield from self._with_run_eta(self._evaluate(epoch), batches_left, later)
        record.update(result.metrics_record())
        if self.validation is not None:
            record["val_map_all"] = yield from self._with_run_eta(
                self._select_on_validation(epoch, result.map_all), batches_left, later)
        self.clock.evaluation_done()
        self.evaluated_epoch = epoch
        self._record(epoch, record)

    def _with_run_eta(self, gen, batches_left: int, evaluations_later: int):
        """Pass `gen`'s events on, its Progress given the run's ETA: this phase's own time left, then the
        batches and evaluations after it. Returns gen's value."""
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(event, Progress):
                eta = self.clock.eta(batches_left, evaluations_later, event.phase, event.eta_s or 0.0)
                if eta is not None:
                    event = dataclasses.replace(event, run_eta_s=eta.seconds, run_eta_note=eta.describe())
            yield event

    def _record(self, epoch: int, record: dict) -> None:
        self.paths.append_metrics(record)
        self.store.log_metrics(self.paths.run_id, epoch, {k: v for k, v in record.items() if k != "epoch"})
        self.store.set_maps(self.paths.run_id, self.final_map, self.best_on_val)

    def _driver_state(self) -> dict:
        best = self.best_on_val
        return {"final_map": self.final_map, "best_on_val": best.to_dict() if best else None,
                "evaluated_epoch": self.evaluated_epoch}

    def _checkpoint(self, epoch: int) -> Generator[Event, None, None]:
        """The checkpoint of completed epoch `epoch`; a partial one of that epoch is stale from now on."""
        best = self.best_on_val
        tensors = self.method.state_tensors()
        self.loss_guard.refuse_non_finite_state(tensors, epoch)
        path = save_checkpoint(self.paths, epoch, self.cfg, tensors, num_classes=self.dataset.num_classes,
                               fingerprint=self.fingerprint, driver=self._driver_state(),
                               keep_epochs=(best.epoch,) if best else ())
        clear_partial(self.paths)
        self.loss_guard.checkpointed_epoch = epoch
        self.resume_point = ResumePoint(epoch, self.cfg.epochs)
        self.store.set_artifact(self.paths.run_id, "checkpoint", path)
        yield CheckpointSaved(epoch=epoch, path=str(path))

    def _save_partial(self, epoch: int, completed: int) -> Generator[Event, None, None]:
        """Stop inside epoch `epoch`: its finished batches become the partial checkpoint (when the method can
        resume mid-epoch, in a single process, and the state is finite); sets self.resume_point."""
        method = self.method
        done, total = method.batches_done, method.batches_in_epoch
        self.resume_point = ResumePoint(completed, self.cfg.epochs)
        if done <= 0:
            return
        if not method.supports_partial or distributed.current().world_size > 1:
            why = ("under torchrun" if method.supports_partial else f"for {self.cfg.method}")
            yield Log(f"the {done} finished batch(es) of epoch {epoch} cannot be kept {why}: mid-epoch resume is "
                      f"not supported there", "warning")
            return
        tensors = {**method.state_tensors(), **method.partial_state_tensors()}
        bad = [n for n, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            yield Log(f"the state after batch {done} of epoch {epoch} holds NaN or Inf ({bad[0]}): not kept", "warning")
            return
        path = save_partial(self.paths, completed, epoch, done, total, self.cfg, tensors,
                            num_classes=self.dataset.num_classes, fingerprint=self.fingerprint,
                            driver=self._driver_state())
        self.resume_point = ResumePoint(completed, self.cfg.epochs, epoch, done, total)
        yield CheckpointSaved(epoch=completed, path=str(path))

    def _partial_note(self) -> str:
        point = self.resume_point
        if point is None or point.in_epoch is None:
            return ""
        return (f" and {point.batches_done} of {point.batches_in_epoch} batches of epoch {point.in_epoch} "
                f"(checkpoint saved)")

    def _divergence_hint(self) -> str:
        """The settings a diverged run's message names as the likely causes."""
        return f"--lr {self.cfg.lr:g}, --image-size {self.cfg.image_size}"

    def _evaluate(self, epoch: int) -> Generator[Event, None, EvalResult]:
        from core.evaluation.chance import chance_map
        from core.evaluation.metrics import collapse_note, largest_code_share, summarize

        query = yield from self._query_codes(cancel=self.cancel)
        self.query_cache = (epoch, query)
        database = yield from self.method.encode_database()
        self.database_cache = (epoch, database)
        labels = (_labels(self.test_records), _labels(self.train_records))
        ks = tuple(k for k in EVAL_KS if k <= len(self.train_records))
        summary = summarize(query, database, *labels, ks=ks)  # headline: tie-averaged (order-invariant)
        value = summary.map_all
        self.final_map = value
        result = EvalResult(epoch=epoch, map_all=value, map_at_k=dict(summary.map_at_k),
                            precision_at_k=dict(summary.precision_at_k),
                            map_all_index_order=summary.map_all_index_order,
                            largest_code_share=largest_code_share(database),
                            chance_map=chance_map(labels[0].numpy(), labels[1].numpy()))
        if result.collapsed:
            yield Log(f"epoch {epoch}: {collapse_note(result.largest_code_share)}; its mAP@all "
                      f"{100 * value:.2f} does not measure hashing", "warning")
        yield result
        return result

    def _select_on_validation(self, epoch: int, test_map: float) -> Generator[Event, None, float]:
        """mAP@all of the validation queries against this epoch's database (the training split the network
        trained on); keeps the best epoch (ties: the earliest) with its test mAP. Returns the validation mAP."""
        from core.evaluation.metrics import map_all

        query = yield from self._query_codes(cancel=self.cancel, records=self.validation.records,
                                             phase="encode validation")
        cached = self.database_cache
        database = cached[1] if cached is not None and cached[0] == epoch else self.method.database_codes()
        value = map_all(query, database, _labels(self.validation.records), _labels(self.train_records))
        if self.best_on_val is None or value > self.best_on_val.val_map:
            self.best_on_val = BestOnValidation(epoch=epoch, val_map=value, test_map=test_map)
        yield ValidationResult(epoch=epoch, map_all=value, best_epoch=self.best_on_val.epoch)
        return value

    def _query_codes(self, cancel: threading.Event | None, records=None,
                     phase: str = "encode queries") -> Generator[Event, None, torch.Tensor]:
        """Codes of `records` (default: the test queries) through the run's one encode path (float32, as a
        later `fghash query` computes them; Multi-FusNet's database goes through it too)."""
        return (yield from encode_run_codes(self.method.model, self.test_records if records is None else records,
                                            self.cfg, self.method.device, cancel=cancel, phase=phase))

    def _save_codes(self, completed: int, cancelled: bool) -> Generator[Event, None, None]:
        self._check_folder()
        if self.query_cache is not None and self.query_cache[0] == completed and not cancelled:
            query = self.query_cache[1]
        else:  # the network moved since the last evaluation (or was never evaluated): encode again
            query = yield from self._query_codes(cancel=None)
        database = yield from self.method.encode_database()
        db_labels, db_paths = _labels(self.train_records).numpy(), [str(r.path) for r in self.train_records]
        # Under the codes lock (adds wait, then are refused while this run trains): the images a user added
        # to the old database (the app, `fghash encode --add`) are the user's data, re-encoded with the new
        # weights and kept, never dropped by a resumed training rewriting the database.
        with codes_lock(self.paths.root):
            added = yield from self._added_images(set(db_paths))
            if added is not None:
                codes, labels, paths = added
                database = torch.cat([database.float(), codes.float()])
                db_labels, db_paths = np.concatenate([db_labels, labels]), db_paths + paths
            for split, codes, labels, paths in (("query", query, _labels(self.test_records).numpy(),
                                                 [r.path for r in self.test_records]),
                                                ("database", database, db_labels, db_paths)):
                path = save_codes(self.paths, split, codes, labels, paths)
                self.store.set_artifact(self.paths.run_id, f"{split}_codes", path)
        self.store.set_artifact(self.paths.run_id, "metrics", self.paths.metrics)
        yield Log(f"saved query ({len(query)}) and database ({len(database)}) codes to {self.paths.codes}")

    def _added_images(self, dataset_paths: set[str]):
        """(codes, labels, paths) of the rows of the saved database that are not images of the training split
        (added after an earlier training finished), encoded again with the current network; None when
        there are none (or no saved database)."""
        if not codes_path(self.paths, "database").is_file():
            return None
        try:
            old = load_codes(self.paths, "database", expected_bits=self.cfg.bits)
        except RunError as exc:
            yield Log(f"the previous database codes cannot be read, so images added to them (if any) cannot be "
                      f"carried over: {exc}", "warning")
            return None
        rows = [i for i, p in enumerate(old.paths) if p not in dataset_paths]
        if not rows:
            return None
        from core.data.records import ImageRecord

        paths = [old.paths[i] for i in rows]
        labels = old.labels[rows]
        records = [ImageRecord(path=p, label=max(0, int(lab)), split="train") for p, lab in zip(paths, labels)]
        codes = yield from encode_new_images(self.method.model, records, run_eval_transform(self.cfg),
                                             self.method.device, self.cfg.batch_size)
        yield Log(f"re-encoded the {len(rows)} image(s) added to the database after training with the new weights "
                  f"(kept in the database)")
        return codes, labels, paths

    def _restore(self, method) -> Generator[Event, None, int]:
        weights = self.paths.last_checkpoint()
        partial = read_partial(self.paths, self.cfg)
        if weights is None and partial is None:
            yield Log(f"run {self.paths.run_id} has no checkpoint yet: starting from epoch 1", "warning")
            return 0
        if partial is not None:
            tensors, meta = partial
            weights = self.paths.checkpoints / "partial.safetensors"
        else:
            tensors, meta = read_checkpoint(weights, self.cfg)
        if meta.get("dataset_fingerprint") != self.fingerprint:
            raise RunError(f"{weights} was trained on a different version of the dataset "
                           f"({self.dataset.kind} at {self.dataset.root}): its images or labels changed")
        try:
            method.load_state_tensors(tensors)
            restore_rng(tensors)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:  # a file fghash did not write this way
            raise RunError(f"{weights} does not hold the {self.cfg.method} training state this run needs "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
        driver = meta.get("driver", {})
        # checkpoints before validation selection also hold "best_map" (chosen on the test split): ignored
        self.final_map = driver.get("final_map")
        self.best_on_val = BestOnValidation.from_dict(driver.get("best_on_val"))
        # checkpoints before Stop kept work did not say; they were always evaluated when evaluation was due
        self.evaluated_epoch = int(driver.get("evaluated_epoch", meta["epoch"]))
        if partial is not None:
            part = meta["partial"]
            method.skip_batches = part["batches_done"]
            method.load_partial_state_tensors(tensors)
            yield Log(f"restored {weights.name}: epoch {part['in_epoch']} continues at batch "
                      f"{part['batches_done'] + 1} of {part['batches_in_epoch']}")
        else:
            yield Log(f"restored {weights.name}")
        return int(meta["epoch"])


EVAL_KS = (10, 100)


def _encodes_database(method) -> bool:
    """Whether an evaluation encodes the training split (symmetric methods) rather than reading V; the
    others' epochs are ADSH outer iterations (a V update each)."""
    return not isinstance(method, AdshMethod)  # mAP@k and precision@k reported next to mAP@all at every evaluation


def _labels(records) -> torch.Tensor:
    return torch.tensor([r.label for r in records], dtype=torch.long)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
