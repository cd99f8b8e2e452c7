"""The facade that the GUI and the CLI both drive. Long work is a generator of core.base.events."""

from __future__ import annotations

from core.runs.paths import RunPaths, resolve_run
from core.runs.store import RunRecord, RunStore


def list_runs(store: RunStore | None = None) -> list[RunRecord]:
    """All runs in the store, newest first."""
    if store is not None:
        return store.list_runs()
    with RunStore() as own:
        return own.list_runs()


def last_metrics(names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """{run id: {name: value of the run's last evaluation}} from the store (the Runs table's extra columns)."""
    with RunStore() as store:
        return store.last_metrics(names)


def open_run(run: str) -> RunPaths:
    """A run by folder, id, unique id prefix or "latest"."""
    return resolve_run(run)


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
from core.runs.admin import delete_run, export_run, map_history  # noqa: E402,F401
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
# The Train form's live check that a backbone's weights can be had ("none", cached or downloadable "imagenet", or a
# matching file): weights_problem(backbone, weights) -> str | None (core/models/backbones.py).
from core.models.backbones import weights_problem  # noqa: E402,F401
# The side of a ResNet stage's feature map at an image size (the Explain tab says what every map is a blow-up of):
# stage_side(image_size, stage="layer4") -> int.
from core.models.backbones import stage_side  # noqa: E402,F401
