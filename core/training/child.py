"""Training in a child process, followed through its events: what the app runs when you press Start.

A GPU step is launched from Python, so in one process whatever the GUI thread does while it holds the GIL
(repaints, curve updates) is taken from the training loop almost one for one: on an NVIDIA H200 a worker
thread beside a GUI-like event loop trained at 0.71x the CLI's images/s (bench/app_throughput.py). A child
process has its own interpreter and GIL; it also keeps a crash (CUDA error, segfault, out of host memory)
out of the app.

    for event in train_in_child(cfg, cancel=threading.Event(), resume=None): ...

has the contract of core.engine.train: the same core.base.events, TrainFinished last and as the return value,
the same exceptions with the same messages (pickled in the child and raised again here, the child's
traceback attached as __cause__). The child runs core.training.driver.train with a multiprocessing Event as its cancel;
the caller's threading.Event is forwarded to it, so Stop ends the run after the current batch as
"cancelled", resumable. If the child dies without finishing, this raises TrainingProcessError naming the
exit code or signal; its run's status then comes from the run lock the OS dropped with the process
(core/runs/lock.py: the store records a "running" run whose lock is free as interrupted).
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
import traceback
from collections.abc import Generator
from multiprocessing.connection import wait
from multiprocessing.pool import RemoteTraceback

from core.base.errors import FghashError, TrainingProcessError, one_line
from core.base.events import Event, TrainFinished
from core.runs.catalog import list_runs, open_store
from core.runs.lock import lock_holder
from core.training.driver import train

POLL_S = 0.1  # how often the caller's cancel is forwarded while no event arrives (Stop answers within it)
EXIT_WAIT_S = 30.0  # after the result, or after a cancel on close: how long the child may take to exit
KILL_WAIT_S = 5.0  # after SIGTERM, before SIGKILL
ORPHAN_WAIT_S = 15.0  # how long a dead child's loader workers may hold its run's lock before we report it


def train_in_child(cfg=None, *, cancel: threading.Event | None = None, resume=None,
                   ) -> Generator[Event, None, TrainFinished]:
    """core.training.driver.train(cfg, cancel=cancel, resume=resume) run in a spawned child process (CUDA cannot be used
    in a forked one); yields its events as they arrive and returns its TrainFinished.

    Closing the generator early cancels the child and waits up to EXIT_WAIT_S for it to end (the run is
    then "cancelled"), then terminates it. The child uses this process's torch thread count and its
    environment (FGHASH_HOME, FGHASH_CACHE), so it trains the same run in the same store, and it starts its
    loader workers as this process would. As with any spawned process, a script that calls this needs the
    `if __name__ == "__main__":` guard (the child imports the script's main module).
    """
    import torch

    context = multiprocessing.get_context("spawn")
    child_cancel = context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, name="fghash-training", daemon=False,
                              args=(send, child_cancel, cfg, resume, torch.get_num_threads(),
                                    multiprocessing.get_start_method()))
    process.start()
    send.close()  # the child holds the only writing end: its death ends the pipe
    ended = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                child_cancel.set()
            message = _next_message(receive, process)
            if message is None:
                continue
            kind, payload = message
            if kind == "event":
                yield payload
            elif kind == "return":
                ended = True
                return payload
            elif kind == "raise":
                ended = True
                raise _rebuilt(receive, *payload)
            else:  # "died": the child ended without a result
                ended = True
                raise TrainingProcessError(_death_message(process))
    finally:
        _end_child(process, receive, child_cancel, drain=not ended)


def _next_message(receive, process) -> tuple[str, object] | None:
    """The child's next (kind, payload), ("died", None) when it is gone without a result, or None when
    nothing came within POLL_S. Waits without holding the GIL."""
    ready = wait([receive, process.sentinel], timeout=POLL_S)
    if receive in ready or (ready and receive.poll()):  # read what it sent before it exited
        try:
            return receive.recv()
        except EOFError:
            pass
    elif not ready:
        return None
    process.join(KILL_WAIT_S)  # the pipe ended or the process did: collect its exit code
    return "died", None


def _death_message(process) -> str:
    """One line: how the child ended, and which run it left behind with what status."""
    code = process.exitcode
    if code is None:
        how = "closed its connection without a result"
    elif code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        how = f"was killed by {name}" + (" (the system may have run out of memory)"
                                         if -code == getattr(signal, "SIGKILL", None) else "")
    else:
        how = f"exited with code {code}"
    text = f"the training process (pid {process.pid}) {how} before the run finished"
    runs = _runs_left_by(process.pid)
    # Its forked loader workers share its lock until they notice it is gone (torch checks every 5 s).
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while runs and runs[0].status == "running" and time.monotonic() < deadline:
        time.sleep(POLL_S)
        runs = _runs_left_by(process.pid)
    if runs:
        text += (f"; run {runs[0].run_id} is {runs[0].status}: resume it to continue from its last "
                 f"checkpoint")
    return text


def _runs_left_by(pid: int) -> list:
    """The runs whose lock file names `pid`, read through the store: reading a "running" run whose lock is
    free is what records it as interrupted (RunStore._alive_or_interrupted)."""
    with open_store() as store:
        return [r for r in list_runs(store) if r.status in ("running", "interrupted")
                and lock_holder(r.run_dir) == pid]


def _end_child(process, receive, child_cancel, drain: bool) -> None:
    """Join the child so that no zombie is left. When the consumer stopped early (drain), cancel it and keep
    reading (a child blocked on a full pipe would never see the cancel); terminate it after EXIT_WAIT_S and
    kill it after KILL_WAIT_S more (its run then reads as interrupted: the OS dropped its lock)."""
    if drain:
        child_cancel.set()
        deadline = time.monotonic() + EXIT_WAIT_S
        while process.is_alive() and time.monotonic() < deadline:
            if receive.poll(POLL_S):
                try:
                    receive.recv()  # an event nobody will read: only keeps the child's sends moving
                except EOFError:  # its end is closed: it is exiting
                    process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join(KILL_WAIT_S)
        if process.is_alive():
            process.kill()
    process.join(EXIT_WAIT_S)
    if process.is_alive():  # answered but does not exit (e.g. a stuck loader worker): it must not outlive us
        process.kill()
        process.join()
    receive.close()
    process.close()


def _child_main(send, cancel, cfg, resume, threads: int, start_method: str) -> None:
    """The child: core.training.driver.train with `cancel`, every event sent to the parent, then its result or its
    exception. If the parent is gone (the pipe broke), the generator is closed, which records the run as
    interrupted, and the child exits."""
    # Ctrl+C in the app's terminal reaches the whole process group: the app decides (it asks, then stops
    # the run like its Stop button), so the child must not die of it halfway through a batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned process spawns its own children too; its loader workers would then import torch and fghash
    # afresh for every loader (seconds per epoch and per encoding). Start them as the parent (the CLI) does.
    multiprocessing.set_start_method(start_method, force=True)
    import torch

    torch.set_num_threads(threads)
    generator = None
    try:
        generator = train(cfg, cancel=cancel, resume=resume)
        while True:
            try:
                event = next(generator)
            except StopIteration as stop:
                send.send(("return", stop.value))
                return
            send.send(("event", event))
    except (BrokenPipeError, ConnectionResetError):
        if generator is not None:
            generator.close()
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent, which raises it
        try:
            send_exception(send, exc)
        except (BrokenPipeError, ConnectionResetError):
            pass
    finally:
        send.close()


def send_exception(send, exc: BaseException) -> None:
    """Two messages: ("raise", (the message to fall back to, the child's traceback)), then ("exception",
    the exception object, or None when it does not pickle). The pipe pickles and unpickles them itself;
    an exception that pickles but does not unpickle (required keyword arguments) fails only the second
    message's recv, after the first one has arrived."""
    message = str(exc) if isinstance(exc, FghashError) else f"{type(exc).__name__}: {one_line(exc)}"
    send.send(("raise", (message, traceback.format_exc())))
    try:
        send.send(("exception", exc))
    except Exception:  # noqa: BLE001 - it did not pickle: Connection.send pickles before it writes
        send.send(("exception", None))


def _rebuilt(receive, message: str, child_traceback: str) -> BaseException:
    """The child's exception (send_exception's second message) as the same type and message, or a
    FghashError with its message when it did not travel, with the child's traceback as its cause for the
    log view."""
    exc = None
    try:
        if receive.poll(EXIT_WAIT_S):
            _kind, exc = receive.recv()
    except Exception:  # noqa: BLE001 - it pickled but does not unpickle, or the child died in between
        exc = None
    if not isinstance(exc, BaseException):
        exc = FghashError(message)
    exc.__cause__ = RemoteTraceback(child_traceback)
    return exc
