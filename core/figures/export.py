"""One call per figure kind, from run names to a written file: what `fghash figure ...` and the GUI's
Export buttons both call (on a worker thread in the GUI: each takes seconds, attention figures longer).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.figures.common import DEFAULT_DPI, FigureError, figure_format, save_figure

MAX_DIGITS = 6  # decimals of a percentage: more is noise (and `--digits 1e8` wrote a 200 MB table)


def write_retrieval_figure(runs: Sequence, queries: Sequence, path: str | Path, *, k: int = 10,
                           show_distance: bool = True, dpi: int = DEFAULT_DPI) -> Path:
    """Queries (test-split indices or image paths) as rows, each run's top k beside them -> `path`."""
    from core.figures.retrieval import gather_retrieval, retrieval_figure

    figure_format(path)  # a wrong suffix fails before minutes of work
    return save_figure(retrieval_figure(gather_retrieval(runs, queries, k), show_distance=show_distance), path, dpi)


def write_attention_figure(run, images: Sequence, path: str | Path, *, target=None, cam_method: str = "gradcam",
                           colormap_name: str = "jet", alpha: float = 0.5, regions: int | None = None,
                           size: int | None = None, dpi: int = DEFAULT_DPI, device: str = "cpu") -> Path:
    """Rows of images (paths or test-split indices) with CAM, Grad-CAM towards `target` (a path, a
    test-split index or None for each image's own code), SREM (N = regions, s = size; None: the run's)
    or Multi-FusNet levels -> `path`."""
    from core.figures.attention import attention_figure, gather_attention
    from core.runs.catalog import resolve_run
    from core.runs.paths import RunPaths

    figure_format(path)
    paths = run if isinstance(run, RunPaths) else resolve_run(run)
    rows = gather_attention(paths, [split_image_path(paths, i) for i in images],
                            target_image=None if target is None else split_image_path(paths, target),
                            cam_method=cam_method, regions=regions, size=size, device=device)
    return save_figure(attention_figure(rows, colormap_name=colormap_name, alpha=alpha), path, dpi)


def write_pr_figure(runs: Sequence, path: str | Path, *, dpi: int = DEFAULT_DPI) -> Path:
    """Precision-recall curves (Hamming radius 0..bits) of the runs, with the chance precision (the class
    prior of each dataset's split) dashed -> `path`."""
    from core.figures.curves import pr_figure
    from core.retrieval.service import evaluate, run_chance_levels
    from core.runs.catalog import resolve_run
    from core.runs.paths import RunPaths

    figure_format(path)
    if not runs:
        raise FigureError("name at least one run")
    paths = [run if isinstance(run, RunPaths) else resolve_run(run) for run in runs]
    return save_figure(pr_figure([evaluate(p) for p in paths], chance=[run_chance_levels(p, ()) for p in paths]),
                       path, dpi)


def write_bits_figure(runs: Sequence, path: str | Path, *, dpi: int = DEFAULT_DPI) -> Path:
    """mAP@all against code length (seed groups as mean ± std), chance level dashed -> `path`."""
    from core.figures.curves import bits_figure

    figure_format(path)
    reports, configs, chance = _evaluated(runs)
    return save_figure(bits_figure(reports, configs, chance), path, dpi)


def table_text(runs: Sequence, fmt: str = "markdown", digits: int = 2, *, metric: str = "test",
               by_dataset: bool = False, timing: bool = False) -> str:
    """The method x bits table of the runs as Markdown, LaTeX (booktabs) or CSV text.

    metric "validation": the test mAP@all of each run's epoch selected on its validation split (the run
    store's record); by_dataset: columns grouped by dataset; timing: training time and images/s columns
    (from each run's metrics.jsonl)."""
    from core.figures.table import build_table, format_table
    from core.runs.catalog import resolve_run
    from core.runs.paths import RunPaths

    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= MAX_DIGITS:
        raise FigureError(f"--digits must be a whole number from 0 to {MAX_DIGITS}; got {digits!r}")
    reports, configs, chance = _evaluated(runs)
    paths = [run if isinstance(run, RunPaths) else resolve_run(run) for run in runs]
    values = _validation_selected(paths) if metric == "validation" else None
    timings = [_timing(p) for p in paths] if timing else None
    return format_table(build_table(reports, configs, chance, values=values, metric=metric, by_dataset=by_dataset,
                                    timings=timings), fmt, digits)


def _validation_selected(paths) -> list[float | None]:
    """Each run's test mAP@all at the epoch chosen on its validation split (None without one)."""
    from core.runs.catalog import open_store

    with open_store() as store:
        records = [store.get(p.run_id) for p in paths]
    return [r.val_best_test_map if r is not None else None for r in records]


def _timing(paths) -> tuple[float | None, float | None]:
    """(training seconds summed over the run's epochs, mean training images/s) from metrics.jsonl."""
    records = [r for r in paths.read_metrics() if isinstance(r, dict)]
    seconds = [float(r["seconds"]) for r in records if isinstance(r.get("seconds"), (int, float))]
    rates = [float(r["images_per_s"]) for r in records if isinstance(r.get("images_per_s"), (int, float))]
    return (sum(seconds) if seconds else None, sum(rates) / len(rates) if rates else None)


def write_table(runs: Sequence, path: str | Path, fmt: str | None = None, digits: int = 2, **options) -> Path:
    """table_text written to `path`; fmt None: from the suffix (.md, .tex, .csv); options as table_text's."""
    from core.base.atomic import atomic_write_bytes

    fmt = fmt or table_format(path)
    text = table_text(runs, fmt, digits, **options)
    out = Path(path)
    try:
        atomic_write_bytes(out, text.encode("utf-8"))
    except OSError as exc:
        raise FigureError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def table_format(path: str | Path) -> str:
    """markdown / latex / csv from a file suffix (.md, .tex, .csv)."""
    suffix = Path(path).suffix.lower()
    formats = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".csv": "csv"}
    if suffix not in formats:
        raise FigureError(f"cannot tell the table format from {str(path)!r}: end the file name in .md, .tex or .csv")
    return formats[suffix]


def split_image_path(run, image):
    """An image argument as a path: an int (or a string of digits that is not a file) is a test-split
    index of the run, looked up in its saved query codes; anything else is returned unchanged."""
    from core.search.codes import load_codes

    if isinstance(image, str) and image.isdigit() and not Path(image).exists():
        image = int(image)
    if not isinstance(image, int):
        return image
    queries = load_codes(run, "query")
    if not 0 <= image < len(queries):
        raise FigureError(f"test-split index {image} is out of range: the run has {len(queries)} test images")
    return str(queries.paths[image])


def _evaluated(runs: Sequence):
    """(RetrievalReports, TrainConfigs, chance levels) of the runs, in order."""
    from core.retrieval.service import evaluate, run_chance_map
    from core.runs.catalog import resolve_run
    from core.runs.paths import RunPaths

    if not runs:
        raise FigureError("name at least one run")
    paths = [run if isinstance(run, RunPaths) else resolve_run(run) for run in runs]
    return ([evaluate(p) for p in paths], [p.load_config() for p in paths], [run_chance_map(p) for p in paths])
