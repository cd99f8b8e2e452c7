"""The facade that the GUI and the CLI both drive. Long work is a generator of core.base.events."""

from __future__ import annotations

from core.explain.api import clear_cache as _clear_explainers
from core.retrieval.session import forget_session as _forget_session
from core.runs import admin as _admin
from core.runs.catalog import last_metrics, list_runs
from core.runs.catalog import resolve_run as open_run


def delete_run(run: str) -> str:
    """Remove a run's folder and its store entry, or a link to it, or an entry whose folder is gone
    (core.runs.admin.delete_run says what it refuses); returns what was removed, in words. The cached
    sessions and explainers, which hold codes, indexes and networks, are dropped first."""
    _forget_session()
    _clear_explainers()
    return _admin.delete_run(run)


def train(cfg, cancel=None, resume=None, store=None):
    """Train one run: a generator of core.base.events ending with TrainFinished (see core.training.driver.train).

    cfg: TrainConfig (None when resuming); cancel: threading.Event checked between batches;
    resume: run id / prefix / folder / RunPaths to continue from its newest checkpoint.
    """
    from core.training.driver import train as _train

    return _train(cfg, cancel=cancel, resume=resume, store=store)


# The app's training: train() run in a spawned child process, followed through its events (the GUI thread's
# GIL cannot slow it down; a crash stays out of the app): train_in_child(cfg, cancel=, resume=).
from core.training.child import train_in_child  # noqa: E402,F401
# Run housekeeping (GUI Runs tab): metric history, delete, export.
from core.runs.admin import export_run, map_history  # noqa: E402,F401
from core.runs.admin import prune_missing_runs  # noqa: E402,F401  (issue 22: entries whose folder is gone)
from core.data.registry import DATASET_KINDS  # noqa: E402,F401  (the GUI's dataset menu)
# Datasets: loading (passthrough to the registry) and folder validation.
from core.data.check import DatasetReport, check_dataset  # noqa: E402,F401
from core.data.registry import load_dataset  # noqa: E402,F401
# Explanations (channel-mean CAM, Grad-CAM family, SREM erasure, Multi-FusNet levels): core/explain.
# explain(image_or_path, run, kind, *, target_code=None, target_image=None, method="gradcam", regions=None,
# size=None, ...) -> Explanation; explainer(run, device) -> Explainer (the GUI keeps one per open run).
from core.explain.api import explain_run as explain  # noqa: E402,F401
from core.explain.api import explainer_for_run as explainer  # noqa: E402,F401
# Retrieval on a trained run (core/retrieval/service.py, core/retrieval/session.py): build_index(run) -> Generator[Progress,
# None, Path]; evaluate(run, ks) -> RetrievalReport; query(image_or_path, run, k, label=None) -> QueryResult;
# add_images(run, paths, labels) -> Generator[Progress, None, int]; session(run) -> cached RunSession.
from core.retrieval.service import add_images, build_index, evaluate, query  # noqa: E402,F401
from core.retrieval.session import open_session as session  # noqa: E402,F401
# One query with its AP, P@k and distance histogram (the GUI's Browse tab): core/retrieval/query_stats.py.
from core.retrieval.query_stats import QueryStats, query_with_stats  # noqa: E402,F401
# Grad-CAM family names the explain kind "gradcam" accepts as method= (the GUI's CAM menu).
from core.explain.gradcam import CAM_METHODS  # noqa: E402,F401
# Encoding any image collection with a trained run, resumable in chunks (core/encoding/collection.py):
# encode_collection(run, folder_collection(DIR) | dataset_collection(kind, root, split), out) ->
# Generator[Progress | Log, None, EncodeResult]; session(run).add_codes(codes, labels, paths) adds them.
from core.encoding.collection import dataset_collection, encode_collection, folder_collection  # noqa: E402,F401
# Where a run fails (GUI Classes tab): class_report(run, k) -> ClassReport (per-class AP, top-k class
# confusion; core/retrieval/class_stats.py); code_map(codes) -> CodeMap (2-D PCA of ±1 codes; core/evaluation/code_map.py).
from core.retrieval.class_stats import ClassReport, class_report, top_confusions, worst_queries  # noqa: E402,F401
from core.evaluation.code_map import CodeMap, code_map  # noqa: E402,F401
# The approximate (IVF) index of a run (core/retrieval/approximate.py): build_approximate(run, nlist, nprobe) ->
# Generator[Progress, None, ApproximateInfo]; approximate_info(run) -> ApproximateInfo | None (header only);
# query(..., approximate=True, nprobe=P) searches it.
from core.retrieval.approximate import ApproximateInfo, approximate_info, build_approximate  # noqa: E402,F401
# Studies (core/studies, issue 26; docs/studies.md): a paper's grid of runs from a study file, resumable.
# run_study(file, executor="local"|"slurm"|"submitit-local", max_parallel=, retry_failed=, rerun_changed=)
# -> Generator[StudyPlan | CellStarted | training events | CellEnded | StudySubmitted, None, StudySummary];
# study_status(id or file) -> (StudySpec, [CellState]); study_table(id, reference=, reported=) -> StudyTable;
# study_table_text(id, fmt, reference=); write_study_figure(id, path); list_studies(); list_examples().
from core.config.study_file import StudySpec, load_study  # noqa: E402,F401
from core.studies.api import study_status, study_table, study_table_text, write_study_figure  # noqa: E402,F401
from core.studies.examples import example_study, list_examples  # noqa: E402,F401
from core.studies.executors import EXECUTORS, StudyPlan, StudySubmitted, StudySummary, run_study  # noqa: E402,F401
from core.studies.runner import CellEnded, CellStarted  # noqa: E402,F401
from core.studies.state import CELL_STATES, CellState, cell_states, list_studies, open_study  # noqa: E402,F401
from core.studies.table import ReportedRow, format_study_table  # noqa: E402,F401
from core.studies.api import write_study_table  # noqa: E402,F401
from core.figures.table import TABLE_FORMATS  # noqa: E402,F401
# What `fghash study run` shows of a cell's training (the CLI reaches these through the facade only).
from core.base.events import BatchEnd, EvalResult, Log, Progress  # noqa: E402,F401
from core.base.text import printable  # noqa: E402,F401
# Chance for every metric (issue 23): chance_levels(run, ks) -> ChanceLevels, the exact expected mAP@all,
# mAP@k, P@k and PR precision of random codes on the run's split, named by its dataset (milliseconds; safe
# off the GUI thread). ChanceLevels.below(metric, value, k) says whether a figure lies below it.
from core.evaluation.chance import ChanceLevels  # noqa: E402,F401
from core.retrieval.service import run_chance_levels as chance_levels  # noqa: E402,F401
# Stop keeps work (issue 23): resume_point(run) -> ResumePoint, where Resume would continue (a partial
# checkpoint mid-epoch, or the last complete epoch); .describe() is the sentence for the quit dialog.
from core.runs.partial import ResumePoint, resume_point  # noqa: E402,F401
# Training events the GUI marks (EpochStart: an outer-iteration boundary on the loss curve); the ETA in
# BatchEnd.eta_s / eta_note and Progress.run_eta_s / run_eta_note counts evaluations (core/training/eta.py).
from core.base.events import EpochStart  # noqa: E402,F401
from core.training.eta import format_seconds  # noqa: E402,F401
# One name and colour per method in every figure, the CLI and the app (core/base/style.py).
from core.base.style import (METHOD_COLORS, METHOD_NAMES, method_color, method_name,  # noqa: E402,F401
                                series_label, variant_label)
# Per-class AP of two runs on the same queries (GUI Classes tab): class_ap_difference(run_a, run_b) ->
# ClassApDifference (ap_a, ap_b, difference = b - a, order: largest gain first); core/retrieval/class_compare.py.
from core.retrieval.class_compare import ClassApDifference, class_ap_difference  # noqa: E402,F401
# Methods (docs/baselines.md): the registered training methods, their provenance (paper, code, reconstructed items,
# database encoding) for `fghash methods` and the app's method menu; the papers' reported mAP@all; per-run notes
# (database encoding, reported figure) for `fghash eval` and the Runs table.
from core.training.methods.registry import DATABASE_KINDS, MethodInfo, method_info, method_names  # noqa: E402,F401
from core.config.reported import Reported, reported  # noqa: E402,F401
from core.retrieval.provenance import database_kind, notes_table as run_notes_table  # noqa: E402,F401
