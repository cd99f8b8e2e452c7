"""The application's shared state, which the panels watch instead of calling each other.

``AppState`` holds what more than one tab needs: the run list (loaded on the request worker, never on the
GUI thread), the open run (resolved on the worker with its config), the run compared with it, and the
result of the query on screen. Setting any of them emits a signal; panels connect to those signals in
their ``watch(state)`` method. The main window only routes the user's navigation (which tab to show).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from core import engine
from core.engine import RunRecord, TrainConfig, has_codes
from fghash_gui.workers import RequestRunner

# Per-run figures of the last evaluation that the runs table does not hold (core.base.events.EvalResult.metrics_record)
EXTRA_METRICS = ("map_all_index_order", "largest_code_share")


@dataclass(frozen=True)
class RunList:
    """The run store as of one load: records newest first, extras = {run id: EXTRA_METRICS values of its
    last evaluation}, with_codes = the runs whose database codes exist (searchable)."""

    records: tuple[RunRecord, ...] = ()
    extras: dict[str, dict[str, float]] = field(default_factory=dict)
    with_codes: frozenset[str] = frozenset()

    def searchable(self) -> list[RunRecord]:
        """The runs Browse can search: those with codes."""
        return [r for r in self.records if r.run_id in self.with_codes]

    def ids(self) -> list[str]:
        return [r.run_id for r in self.records]


def load_run_list() -> RunList:
    """Runs on the worker: one store query for the runs and one for their last metrics, a stat per run."""
    records = tuple(engine.list_runs())
    return RunList(records, engine.last_metrics(EXTRA_METRICS),
                   frozenset(r.run_id for r in records if has_codes(r.run_dir)))


@dataclass(frozen=True)
class OpenRun:
    """A run resolved from what the user typed or clicked (id, unique prefix, folder, 'latest')."""

    run_id: str
    config: TrainConfig


def resolve_run(run: str) -> OpenRun:
    """Runs on the worker: the run's id and its saved config (raises FghashError for an unknown run)."""
    paths = engine.open_run(run)
    return OpenRun(paths.run_id, paths.load_config())


class AppState(QObject):
    """Run list, open run, compared run and current query result, with a signal for each change.

    ``reload_runs()`` and ``open_run(run)`` load on the request worker's interactive lane (channels
    "run-list" and "open-run"); their answers arrive in the order asked, so an open that follows a reload
    finds the new run in the list.
    """

    runs_changed = Signal(object)  # RunList
    run_opened = Signal(object)  # OpenRun (also when the same run is opened again: its files may have changed)
    compare_changed = Signal(object)  # run id or None
    query_changed = Signal(object)  # the engine's QueryResult now shown for the open run, or None
    runs_deleted = Signal(list)  # run ids
    error = Signal(str)

    def __init__(self, requests: RequestRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.requests = requests
        self.runs = RunList()
        self.current: OpenRun | None = None
        self.compare_run_id: str | None = None
        self.query = None
        self.chance_maps: dict[str, float] = {}  # run id -> mAP@all of random codes (fixed once its codes exist)

    @property
    def run_id(self) -> str | None:
        return self.current.run_id if self.current is not None else None

    # --- loading on the worker --------------------------------------------------------------------

    def reload_runs(self) -> None:
        """Reload the run list on the worker; ``runs_changed`` follows."""
        self.requests.submit("run-list", load_run_list, on_result=self._on_runs, on_error=self.error.emit)

    def _on_runs(self, runs: RunList) -> None:
        self.runs = runs
        self.runs_changed.emit(runs)

    def open_run(self, run: str) -> None:
        """Make `run` the open run of every tab: the list is reloaded, the run resolved on the worker, then
        ``run_opened`` is emitted."""
        self.reload_runs()
        self.requests.submit("open-run", resolve_run, run, on_result=self._on_opened, on_error=self.error.emit)

    def _on_opened(self, opened: OpenRun) -> None:
        self.current = opened
        self.query = None
        self.run_opened.emit(opened)

    # --- set from the panels ----------------------------------------------------------------------

    def set_compare_run(self, run_id: str | None) -> None:
        if run_id != self.compare_run_id:
            self.compare_run_id = run_id
            self.compare_changed.emit(run_id)

    def set_query(self, result) -> None:
        """The open run's query result on screen (core QueryResult; None when cleared)."""
        self.query = result
        self.query_changed.emit(result)

    def forget_runs(self, run_ids: list[str]) -> None:
        """Runs were deleted: close them where they are open, tell the panels, reload the list."""
        if self.run_id in run_ids:
            self.current, self.query = None, None
        if self.compare_run_id in run_ids:
            self.set_compare_run(None)
        for run_id in run_ids:
            self.chance_maps.pop(run_id, None)
        self.runs_deleted.emit(list(run_ids))
        self.reload_runs()
