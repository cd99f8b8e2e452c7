"""The ranks other than 0 under torchrun ("followers"), and how rank 0 starts and stops them.

Rank 0 runs the ordinary driver and calls start_followers() before its first epoch: the config, the first epoch
and the full training state go to the other ranks, which wait in follow() and then train the same epochs in
lockstep, logging to their own file. core/runtime/distributed.py says how the work is split and what holds.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import threading
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from core.base.errors import ConfigError
from core.base.events import BatchEnd, Log
from core.config.train_config import TrainConfig
from core.data.registry import load_dataset
from core.runs.paths import fghash_home
from core.runtime.device import select_device
from core.runtime.distributed import current
from core.training.methods.registry import make_method


# ---- starting the followers ------------------------------------------------------------------------
def start_followers(method, cfg, start: int, run_id: str) -> str | None:
    """Rank 0, before the first epoch: send the config, the first epoch and the full training state to
    the other ranks (they wait in follow()), and prepare this rank. Returns a line for the log (None in a
    single process)."""
    if not current().active:
        return None
    _check_batch(cfg)
    dist.broadcast_object_list([(cfg.to_dict(), start, run_id, _cpu(method.state_tensors()))], src=0)
    sync_bn = _prepare(method, cfg, start)
    per_rank = cfg.batch_size / current().world_size
    return (f"torchrun: {current().world_size} processes ({current().backend}); global batch {cfg.batch_size} "
            f"(~{per_rank:g} per process), lr {cfg.lr:g}; SyncBatchNorm "
            f"{'on' if sync_bn else 'off (CPU: each process normalises its own slice)'}")


def finish_followers() -> None:
    """Rank 0, after its last run: tell the followers there is nothing more to train."""
    if current().active:
        dist.broadcast_object_list([None], src=0)


def follow() -> int:
    """A rank other than 0: train whatever rank 0 announces, in lockstep, until it says it is done.

    Writes nothing but its log file. Returns the exit code (0).
    """
    cancel = threading.Event()  # followers are stopped by torchrun, never cancelled
    while True:
        box = [None]
        dist.broadcast_object_list(box, src=0)
        if box[0] is None:
            return 0
        cfg_dict, start, run_id, state = box[0]
        cfg = TrainConfig.from_dict(cfg_dict)
        with _follower_log(run_id) as log:
            log(f"{current().label()} pid {os.getpid()} following run {run_id} from epoch {start + 1} "
                f"to {cfg.epochs}")
            device = select_device(cfg.device)
            dataset = load_dataset(cfg.dataset_kind, cfg.dataset_root, allow_missing=cfg.allow_missing)
            method = make_method(cfg, dataset, device)
            method.load_state_tensors(state)
            _prepare(method, cfg, start)
            for epoch in range(start + 1, cfg.epochs + 1):
                losses = []
                for event in method.train_epoch(epoch, cancel):
                    if isinstance(event, Log):
                        log(event.message)
                    elif isinstance(event, BatchEnd):
                        losses.append(float(event.loss))
                log(f"epoch {epoch} done: {len(losses)} steps, mean global-batch loss "
                    f"{np.mean(losses) if losses else float('nan'):.6g}")
            log("done")


def follower_log_path(run_id: str, rank: int) -> Path:
    return fghash_home() / "logs" / f"{run_id}.rank{rank}.log"


# ---- helpers ---------------------------------------------------------------------------------------
def _check_batch(cfg) -> None:
    world = current().world_size
    need = 2 * world if cfg.method == "multifusnet" else world  # BatchNorm1d needs 2 images per process
    if cfg.batch_size < need:
        raise ConfigError(f"the global batch ({cfg.batch_size}) must hold at least {need} images for {world} "
                          f"processes ({cfg.method}); raise --batch-size or use --per-rank-batch-size")


def _prepare(method, cfg, start: int) -> bool:
    """SyncBatchNorm on CUDA (in place: the optimiser keeps the same parameters) and a per-rank global random
    stream for augmentation without loader workers, from (seed, rank, start epoch); rank 0 keeps the
    driver's single-process stream. Returns whether SyncBN is on."""
    sync_bn = method.device.type == "cuda"
    if sync_bn:
        torch.nn.SyncBatchNorm.convert_sync_batchnorm(method.model)
    if current().rank > 0:
        digest = hashlib.sha256(repr((int(cfg.seed), current().rank, int(start))).encode()).digest()
        seed = int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)
        torch.manual_seed(seed)
        np.random.seed(seed % (2 ** 32))
        random.seed(seed)
    return sync_bn


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in tensors.items()}


class _follower_log:
    """A context manager giving log(message): timestamped lines appended to this rank's log file."""

    def __init__(self, run_id: str) -> None:
        self.path = follower_log_path(run_id, current().rank)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("a", encoding="utf-8")

        def log(message: str) -> None:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            self.file.write(f"{stamp} {message}\n")
            self.file.flush()
        return log

    def __exit__(self, *exc: object) -> None:
        self.file.close()
