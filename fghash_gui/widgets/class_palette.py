"""Class colours that can be told apart: a qualitative palette of 20 colours, combined with a marker shape for
more than 20 classes, given only to the classes present (so 50 present classes of 200 get 50 distinct styles,
not 200 hues of which neighbours look alike).

The colours are Kelly's 22 colours of maximum contrast (K. L. Kelly, "Twenty-two colors of maximum contrast",
Color Engineering 3(6), 1965) without white and black, which vanish on the plot's background or on its text.
"""

from __future__ import annotations

from dataclasses import dataclass

KELLY = ("#f3c300", "#875692", "#f38400", "#a1caf1", "#be0032", "#c2b280", "#848482", "#008856", "#e68fac",
         "#0067a5", "#f99379", "#604e97", "#f6a600", "#b3446c", "#dcd300", "#882d17", "#8db600", "#654522",
         "#e25822", "#2b3d26")
SYMBOLS = ("o", "s", "t", "d", "+", "star", "t1", "x")  # pyqtgraph marker names, one per round of 20 colours
GREY = "#c8c8c8"  # the classes not highlighted


@dataclass(frozen=True)
class ClassStyle:
    colour: str  # "#rrggbb"
    symbol: str  # a pyqtgraph symbol name


def class_styles(present: list[int]) -> dict[int, ClassStyle]:
    """A distinct (colour, symbol) for each class label in `present` (in the given order); unique for up to
    len(KELLY) * len(SYMBOLS) = 160 classes, repeating after that."""
    styles = {}
    for i, label in enumerate(present):
        styles[int(label)] = ClassStyle(KELLY[i % len(KELLY)], SYMBOLS[(i // len(KELLY)) % len(SYMBOLS)])
    return styles
