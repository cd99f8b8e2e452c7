"""The facade: the one public API of the engine, what the GUI, the CLI and users' scripts import.

Long work is a generator of events (core/base/events.py) that returns its result; everything here is Qt-free.
The layers below (docs/architecture.md) are implementation: import from here.
"""

from __future__ import annotations

# ---- errors and events ------------------------------------------------------------------------------------------
from core.base.errors import Cancelled, ConfigError, FghashError, ImageDecodeError
from core.base.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochStart,
    EvalResult,
    Log,
    Progress,
    TrainFinished,
    ValidationResult,
)
from core.base.style import METHOD_COLORS, METHOD_NAMES, method_color, method_name, series_label, variant_label
from core.base.text import printable

# ---- configuration ----------------------------------------------------------------------------------------------
from core.config.presets import PRESET_HELP, PRESETS, preset_config
from core.config.reported import Reported, reported
from core.config.study_file import StudySpec, load_study
from core.config.train_config import BACKBONES, COMPILE_STEP_MODES, DEVICES, METHODS, TrainConfig

# ---- data -------------------------------------------------------------------------------------------------------
from core.data.check import DatasetReport, check_dataset
from core.data.images import load_rgb
from core.data.registry import DATASET_KINDS, TITLES, has_official_validation, layout_of, load_dataset

# ---- encoding ---------------------------------------------------------------------------------------------------
from core.encoding.collection import dataset_collection, encode_collection, folder_collection, load_encoded
from core.encoding.encode import drain

# ---- retrieval and analysis -------------------------------------------------------------------------------------
from core.evaluation.chance import CHANCE_DESCRIPTION, ChanceLevels
from core.evaluation.code_map import CodeMap, code_map
from core.evaluation.metrics import TIES_AVERAGED_LABEL, TIES_BY_INDEX_LABEL, collapse_note
from core.evaluation.seed_groups import MeanStd, SeedGroup, group_by_seed, mean_std
from core.explain.api import clear_cache as _clear_explainers

# ---- explanations -----------------------------------------------------------------------------------------------
from core.explain.api import explain_run as explain  # explain(image_or_path, run, kind, ...) -> Explanation
from core.explain.api import explainer_for_run as explainer  # one Explainer per open run (the GUI keeps it)
from core.explain.gradcam import CAM_METHODS, SIMILARITIES
from core.explain.overlay import COLORMAPS, colorbar, save_png
from core.explain.overlay import label as label_image
from core.explain.render import render, render_panel, render_side_by_side
from core.explain.types import EXPLANATION_KINDS, Explanation

# ---- figures and tables -----------------------------------------------------------------------------------------
from core.figures.common import DEFAULT_DPI
from core.figures.export import (
    table_format,
    table_text,
    write_attention_figure,
    write_bits_figure,
    write_pr_figure,
    write_retrieval_figure,
    write_table,
)
from core.figures.table import TABLE_FORMATS
from core.models.backbones import hub_weights_path, stage_side, weights_problem
from core.retrieval.approximate import RECALL_MEANING, ApproximateInfo, approximate_info, build_approximate
from core.retrieval.class_compare import ClassApDifference, class_ap_difference
from core.retrieval.class_stats import ClassReport, class_report, top_confusions, worst_queries
from core.retrieval.provenance import database_kind
from core.retrieval.provenance import notes_table as run_notes_table
from core.retrieval.query_stats import QueryStats, query_with_stats
from core.retrieval.service import TIES_NOTE, add_images, build_index, evaluate, query, report_table, run_chance_map
from core.retrieval.service import run_chance_levels as chance_levels
from core.retrieval.session import forget_session as _forget_sessions
from core.retrieval.session import open_session as session

# ---- composed here: run deletion drops the caches of the layers above the runs ----------------------------------
from core.runs.admin import delete_run as _delete_run_folder

# ---- runs -------------------------------------------------------------------------------------------------------
from core.runs.admin import export_run, map_history, prune_missing_runs
from core.runs.catalog import last_metrics, list_runs
from core.runs.catalog import resolve_run as open_run  # a run by folder, id, unique id prefix or "latest"
from core.runs.partial import ResumePoint, resume_point
from core.runs.store import RunRecord

# ---- training (engine.train: a generator of events ending with TrainFinished) -----------------------------------
from core.runtime.distributed import LOST_PEER_MESSAGE, check_same_options, env_world_size, global_batch, lost_peer
from core.runtime.distributed import setup as setup_ranks
from core.runtime.distributed import teardown as teardown_ranks
from core.search.codes import has_codes
from core.search.index import read_index_header

# ---- studies (docs/studies.md) ----------------------------------------------------------------------------------
from core.studies.api import study_status, study_table, study_table_text, write_study_figure, write_study_table
from core.studies.examples import example_study, list_examples
from core.studies.executors import EXECUTORS, StudyPlan, StudySubmitted, StudySummary, run_study
from core.studies.runner import CellEnded, CellStarted
from core.studies.state import CELL_STATES, CellState, cell_states, list_studies, open_study
from core.studies.table import ReportedRow, format_study_table
from core.training.child import train_in_child  # train() in a spawned child process: the app's training
from core.training.driver import train
from core.training.eta import format_seconds
from core.training.followers import finish_followers
from core.training.followers import follow as follow_rank_zero
from core.training.methods.registry import DATABASE_KINDS, MethodInfo, method_info, method_names


def delete_run(run: str) -> str:
    """Remove a run's folder and its store entry, or a link to it, or an entry whose folder is gone
    (core.runs.admin.delete_run says what it refuses); returns what was removed, in words. The cached
    sessions and explainers, which hold codes, indexes and networks, are dropped first."""
    _forget_sessions()
    _clear_explainers()
    return _delete_run_folder(run)


__all__ = [
    # errors and events
    "Cancelled", "ConfigError", "FghashError", "ImageDecodeError",
    "BatchEnd", "CheckpointSaved", "EpochEnd", "EpochStart", "EvalResult", "Log", "Progress", "TrainFinished",
    "ValidationResult", "printable",
    "METHOD_COLORS", "METHOD_NAMES", "method_color", "method_name", "series_label", "variant_label",
    # configuration
    "BACKBONES", "COMPILE_STEP_MODES", "DEVICES", "METHODS", "TrainConfig", "PRESETS", "PRESET_HELP", "preset_config",
    "Reported", "reported", "StudySpec", "load_study",
    # data
    "DATASET_KINDS", "TITLES", "has_official_validation", "layout_of", "load_dataset", "DatasetReport",
    "check_dataset", "load_rgb", "hub_weights_path", "stage_side", "weights_problem",
    # runs
    "list_runs", "last_metrics", "open_run", "delete_run", "export_run", "map_history", "prune_missing_runs",
    "RunRecord", "ResumePoint", "resume_point", "has_codes", "read_index_header",
    # training
    "train", "train_in_child", "format_seconds", "DATABASE_KINDS", "MethodInfo", "method_info", "method_names",
    "setup_ranks", "teardown_ranks", "global_batch", "env_world_size", "check_same_options", "lost_peer",
    "LOST_PEER_MESSAGE", "follow_rank_zero", "finish_followers",
    # encoding
    "dataset_collection", "encode_collection", "folder_collection", "load_encoded", "drain",
    # retrieval and analysis
    "add_images", "build_index", "evaluate", "query", "session", "report_table", "TIES_NOTE", "QueryStats",
    "query_with_stats", "ApproximateInfo", "approximate_info", "build_approximate", "RECALL_MEANING",
    "ClassReport", "class_report", "top_confusions", "worst_queries", "CodeMap", "code_map",
    "ClassApDifference", "class_ap_difference", "ChanceLevels", "chance_levels", "run_chance_map",
    "CHANCE_DESCRIPTION", "TIES_AVERAGED_LABEL", "TIES_BY_INDEX_LABEL", "collapse_note", "MeanStd", "SeedGroup",
    "group_by_seed", "mean_std", "database_kind", "run_notes_table",
    # explanations
    "explain", "explainer", "CAM_METHODS", "SIMILARITIES", "COLORMAPS", "colorbar", "save_png", "label_image",
    "render", "render_panel", "render_side_by_side", "EXPLANATION_KINDS", "Explanation",
    # figures and tables
    "DEFAULT_DPI", "TABLE_FORMATS", "table_format", "table_text", "write_attention_figure", "write_bits_figure",
    "write_pr_figure", "write_retrieval_figure", "write_table",
    # studies
    "study_status", "study_table", "study_table_text", "write_study_figure", "write_study_table", "example_study",
    "list_examples", "EXECUTORS", "StudyPlan", "StudySubmitted", "StudySummary", "run_study", "CellEnded",
    "CellStarted", "CELL_STATES", "CellState", "cell_states", "list_studies", "open_study", "ReportedRow",
    "format_study_table",
]
