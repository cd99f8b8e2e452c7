"""Data-parallel training over several processes started by torchrun (torch.distributed: NCCL on GPUs, gloo on CPU).

    torchrun --nproc-per-node 2 -m core.cli train ...

This module holds the rank helpers (setup, the global batch and its shards, the collectives); the followers
that train beside rank 0 are core/training/followers.py. Every process runs the same method. Rank 0 runs the
ordinary driver (core/training/driver.py): it alone writes the run folder, the store, checkpoints, metrics and
codes, and it alone evaluates. The other ranks ("followers") receive the config, the first epoch and the full
training state from rank 0, then train in lockstep and log to their own file
(<FGHASH_HOME>/logs/<run id>.rank<R>.log).

How the work is split (single process = world size 1, where every function here is a no-op):
* Every rank draws the same global batches from the same seeded generators; shard_batches() gives each
  rank a contiguous slice of every global batch (so for ADSH each rank trains on its shard of the m
  sampled images). What is random per image is each rank's own: augmentation (loader workers' seeds,
  --data-cache's device crops, the global RNG with no workers) and Multi-FusNet's zoom draws come from
  generators derived from (seed, epoch, rank) (core.training.methods.common.rank_generator); rank 0 keeps
  the single-process streams. Shared draws (batch order, ADSH's sampled images, FCAENet's positives) are
  the same on every rank. TrainConfig.batch_size stays the GLOBAL batch: a checkpoint resumes with any number
  of processes and the same global batch and learning rate.
* NetworkStepper.step() calls reduce_gradients(): one flat all-reduce of share-weighted gradients per
  step, share = slice size / global batch size, so for losses that are means over the batch the update
  is the one a single process takes on the whole global batch. (Not the DDP wrapper: FCAENet and
  Multi-FusNet make two forward passes per step, through methods other than forward().)
* ADSH/FCAENet: each rank records U only for its own rows; sum_rows() all-reduces them into the full U,
  every rank runs the same DCC update of V, and check_identical() compares a checksum of V's signs
  across ranks after every outer iteration (RunError if they differ).
* SyncBatchNorm on CUDA for all three methods: batch statistics are those of the global batch, as in one
  process. Multi-FusNet needs it most: its hash head normalises the codes with BatchNorm1d and the
  paper's batch of 16 leaves 2-4 images per GPU. gloo has no SyncBatchNorm, so on the CPU each rank
  normalises its own slice.

What holds, exactly: for one step on the same inputs (same images, same augmentation), the averaged
gradient and the update equal one process's on the whole global batch (tests/core/test_distributed.py).
A whole run is not identical to a single-process run: each rank draws its own augmentation and zooms, and
on the CPU batch norm normalises per rank. It is meant to be statistically equivalent (on GPUs, with
SyncBatchNorm), but on the CPU a 2-process demo run scored about 2 points below the single-process seeds'
spread (docs/measurements.md).
"""

from __future__ import annotations

import datetime
import math
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.base.errors import ConfigError, RunError, one_line

LR_SCALING = ("none", "linear", "sqrt")
TIMEOUT_ENV = "FGHASH_DIST_TIMEOUT_S"  # how long a rank waits in a collective (rank 0 evaluating) before failing
DEFAULT_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Rank:
    """This process's place in the job. world_size 1: an ordinary single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def label(self) -> str:
        return f"rank {self.rank}/{self.world_size}"


_current = Rank()


def current() -> Rank:
    """The Rank set by setup() (a single-process Rank before, or without torchrun)."""
    return _current


def env_world_size() -> int:
    """Processes in the job according to torchrun's environment (1 when not started by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device_name: str | None) -> Rank:
    """Join the process group torchrun prepared (env://) when WORLD_SIZE > 1; otherwise do nothing.

    device_name: the --device option. CUDA (asked for, or "auto" with a GPU) -> NCCL on GPU LOCAL_RANK;
    otherwise gloo. Collectives time out after $FGHASH_DIST_TIMEOUT_S seconds (default 3600: the other
    ranks wait in a collective while rank 0 evaluates and writes checkpoints).
    """
    global _current
    world = env_world_size()
    if world <= 1 or dist.is_initialized():
        return _current
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device_name != "cpu" and torch.cuda.is_available()
    if cuda:
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local} but torch sees {torch.cuda.device_count()} GPU(s): start at most "
                              f"one process per GPU (--nproc-per-node)")
        torch.cuda.set_device(local)  # torch.device("cuda") means this rank's GPU from here on
    timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    backend = "nccl" if cuda else "gloo"
    try:
        dist.init_process_group(backend, timeout=timeout)
    except (dist.DistError, RuntimeError, ValueError) as exc:  # DistStoreError: a peer never joined
        raise RunError(f"rank {rank}/{world}: the torchrun processes could not form their group within "
                       f"{timeout.total_seconds():g} s ({one_line(exc, 160)}); check that all {world} processes "
                       f"started (--nnodes, --nproc-per-node, the rendezvous address); ${TIMEOUT_ENV} sets the "
                       f"wait") from None
    _current = Rank(rank=rank, world_size=world, local_rank=local, backend=backend)
    return _current


def check_same_options(options: dict) -> None:
    """Every rank was started with the same command-line options (torchrun passes one command to all; a rank
    started by hand with another --dataset or --bits would otherwise be silently overridden by rank 0's).
    options: this rank's parsed options (plain values). RunError on every rank naming what differs."""
    if not _current.active:
        return
    mine = {k: repr(v) for k, v in sorted(options.items())}
    everyone: list = [None] * _current.world_size
    dist.all_gather_object(everyone, mine)
    for other_rank, theirs in enumerate(everyone):
        differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if differ:
            detail = ", ".join(f"--{k.replace('_', '-')} {theirs.get(k)} on rank {other_rank} but {mine.get(k)} "
                               f"on rank {_current.rank}" for k in differ[:3])
            raise RunError(f"the torchrun processes were given different options ({detail}); every process of a "
                           f"job must get the same command")


def lost_peer(exc: BaseException) -> bool:
    """Whether exc is a collective failing because another rank went away (gloo raises a plain
    RuntimeError naming its transport, NCCL a DistError)."""
    text = str(exc)
    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and ("gloo" in text or "NCCL" in text or "Connection reset" in text))


LOST_PEER_MESSAGE = ("lost contact with another process of this job: it stopped (its own message is above, or in "
                     "its log under $FGHASH_HOME/logs); the run keeps its last checkpoint: continue it with "
                     "`fghash train --resume RUN`, with any number of processes")


def teardown() -> None:
    """Leave the process group (after a final barrier, so no rank exits while another still sends)."""
    global _current
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    _current = Rank()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if _current.active:
        dist.barrier()


# ---- the global batch ------------------------------------------------------------------------------
def global_batch(cfg, reference_batch: int, per_rank_batch: int | None, world_size: int, lr_scaling: str):
    """cfg with batch_size = the global batch and lr scaled for it.

    per_rank_batch: images per process per step (global = per_rank_batch * world_size); None keeps
    cfg.batch_size as the global batch. lr_scaling: "none" keeps cfg.lr; "linear" multiplies it by
    global / reference_batch (Goyal et al. 2017), "sqrt" by the square root of that ratio, where
    reference_batch is the batch the preset's learning rate was published for.
    """
    if lr_scaling not in LR_SCALING:
        raise ConfigError(f"--lr-scaling must be one of {', '.join(LR_SCALING)}; got {lr_scaling!r}")
    if per_rank_batch is not None and per_rank_batch < 1:
        raise ConfigError(f"--per-rank-batch-size must be at least 1; got {per_rank_batch}")
    batch = per_rank_batch * world_size if per_rank_batch is not None else cfg.batch_size
    ratio = batch / reference_batch
    factor = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[lr_scaling]
    return cfg.replace(batch_size=batch, lr=cfg.lr * factor)


def shard_batches(batches: list[list]) -> tuple[list[list], list[float]]:
    """This rank's contiguous slice of every global batch and its share (slice size / batch size).

    A rank whose slice of a short batch is empty gets the batch's first item with share 0: it still
    runs the step (every rank must take part in each collective) but adds nothing to the update.
    """
    ctx = _current
    if not ctx.active:
        return batches, [1.0] * len(batches)
    local, shares = [], []
    for batch in batches:
        lo, hi = len(batch) * ctx.rank // ctx.world_size, len(batch) * (ctx.rank + 1) // ctx.world_size
        local.append(batch[lo:hi] if hi > lo else batch[:1])
        shares.append((hi - lo) / len(batch))
    return local, shares


# ---- collectives -----------------------------------------------------------------------------------
def reduce_gradients(params: list[torch.Tensor], loss: torch.Tensor, share: float) -> torch.Tensor:
    """Replace every gradient by sum over ranks of share * gradient (one flat all-reduce); returns the
    global batch loss sum over ranks of share * loss (detached). Single process: loss.detach().

    A parameter whose gradient is None on every rank stays None (SGD then skips it, as in one process).
    """
    if not _current.active:
        return loss.detach()
    device = loss.device
    grads = [(p.grad.detach().float() if p.grad is not None else torch.zeros(p.shape, device=device)).reshape(-1)
             for p in params]
    present = torch.tensor([float(p.grad is not None) for p in params], device=device)
    flat = torch.cat([torch.cat(grads + [loss.detach().float().reshape(1)]) * share, present])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad = flat[offset:offset + p.numel()].view_as(p).to(p.dtype)
        offset += p.numel()
    for p, flag in zip(params, flat[offset + 1:].tolist()):
        if flag == 0:
            p.grad = None
    return flat[offset]


def sum_rows(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks, in place (ADSH: each rank filled only its own rows of U, the rest are 0, so
    the sum is exact: every entry is one rank's value plus zeros). Returns t."""
    if _current.active:
        dist.all_reduce(t)
    return t


def sign_checksum(t: torch.Tensor) -> int:
    """A 62-bit checksum of the sign pattern (t > 0) of a 2-D tensor, position-weighted so that swapped
    rows or columns change it."""
    bits = (t > 0).reshape(-1).to(torch.int64)
    prime = 2147483647
    position = (torch.arange(bits.numel(), dtype=torch.int64, device=t.device) * 2654435761 + 97) % prime
    weights = (position * position) % prime  # squared: a linear weight lets swaps cancel out in the sum
    return int((bits * weights).sum()) & ((1 << 62) - 1)


def check_identical(t: torch.Tensor, what: str) -> int:
    """All-reduce the sign checksum of t; RunError naming `what` unless every rank holds the same
    signs. Returns the checksum (the same on every rank)."""
    value = sign_checksum(t)
    if not _current.active:
        return value
    pair = torch.tensor([value, -value], dtype=torch.int64, device=t.device)
    dist.all_reduce(pair, op=dist.ReduceOp.MAX)
    high, low = int(pair[0]), -int(pair[1])
    if high != low:
        raise RunError(f"{what} differ between the {_current.world_size} processes (checksums from {low} to "
                       f"{high}, this {_current.label()}: {value}): the ranks diverged; stop and resume from "
                       f"the last checkpoint, and report this as a bug")
    return value
