"""Paper figures and tables from trained runs (Qt-free; matplotlib on its Agg canvas), one module per kind:

- retrieval.py: queries as rows, the top k of one or more runs, green/red frames (FCAENet Fig. 6)
- attention.py: original / CAM / Grad-CAM towards a query / SREM mask / erased, or Multi-FusNet levels
- curves.py:    precision-recall curves and mAP-vs-bits curves of selected runs, with the chance level
- table.py:     the method x bits table (mean ± std over seeds) as Markdown, LaTeX (booktabs) or CSV

Each module gathers its data through the engine (query, explain, evaluate), then draws; save_figure
writes PDF, SVG or PNG by the file's suffix. The CLI (`fghash figure ...`) and the GUI's Export buttons
both call these functions.
"""

from core.figures.common import FORMATS, FigureError, figure_format, save_figure

__all__ = ["FORMATS", "FigureError", "figure_format", "save_figure"]
