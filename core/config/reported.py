"""The mAP@all (%) the papers report, as data (docs/baselines.md section 8, docs/methods.md sections 2.5 and 3.7).

Sources: "F" = FCAENet Table 1 (every baseline cited to the ExchNet paper), "M" = Multi-FusNet Table 3. The values
were copied from paper to paper, not re-run: rough targets only. reported(method, dataset, bits) looks one up.

Known transcription error: Multi-FusNet's HashNet NABirds column (23.40 / 32.90 / 45.20 / 49.70) is FCAENet's
2.34 / 3.29 / 4.52 / 4.97 times 10. The table keeps FCAENet's values and flags the row.
"""

from __future__ import annotations

from dataclasses import dataclass

BITS = (12, 24, 32, 48)
SOURCES = {
    "F": "FCAENet (Zhao et al. 2022) Table 1",
    "M": "Multi-FusNet (Cui et al. 2024) Table 3",
}
# paper method name -> the fghash method that implements it
PAPER_NAMES = {"DPSH": "dpsh", "HashNet": "hashnet", "ADSH": "adsh", "ExchNet": "exchnet", "A²-Net": "a2net",
               "SEMICON": "semicon", "AMGH": "agmh", "FCAENet": "fcaenet", "Multi-FusNet": "multifusnet"}
HASHNET_NABIRDS_NOTE = ("Multi-FusNet Table 3 prints 23.40 / 32.90 / 45.20 / 49.70 here: FCAENet's values x10, "
                        "a transcription error")

# (dataset, paper method) -> (12, 24, 32, 48 bits in %, sources, note); None = not reported
_TABLE: dict[tuple[str, str], tuple[tuple[float | None, ...], str, str]] = {
    ("cub", "DPSH"): ((8.68, 12.51, 12.74, 15.58), "F,M", ""),
    ("cub", "HashNet"): ((12.03, 17.77, 19.93, 22.13), "F,M", ""),
    ("cub", "ADSH"): ((20.03, 50.33, 61.68, 65.43), "F,M", ""),
    ("cub", "ExchNet"): ((25.14, 58.98, 67.74, 71.05), "F,M", ""),
    ("cub", "A²-Net"): ((33.83, 61.01, 71.61, 77.33), "M", ""),
    ("cub", "SEMICON"): ((37.76, 65.41, 72.61, 79.67), "M", "SEMICON's own logs: 63.45 at 24 bits, 79.62 at 48"),
    ("cub", "AMGH"): ((56.42, 77.44, 81.95, 83.69), "M", ""),
    ("aircraft", "DPSH"): ((8.74, 10.87, 13.54, 13.94), "F,M", ""),
    ("aircraft", "HashNet"): ((14.91, 17.75, 19.42, 20.32), "F,M", ""),
    ("aircraft", "ADSH"): ((15.54, 23.09, 30.37, 50.65), "F,M", ""),
    ("aircraft", "ExchNet"): ((33.27, 45.83, 51.83, 59.05), "F,M", ""),
    ("aircraft", "A²-Net"): ((42.72, 63.66, 72.51, 81.37), "M", ""),
    ("aircraft", "SEMICON"): ((49.87, 75.08, 80.45, 84.23), "M", ""),
    ("aircraft", "AMGH"): ((71.64, 83.45, 83.60, 84.91), "M", ""),
    ("nabirds", "DPSH"): ((2.17, 4.08, 3.61, 3.20), "F,M", ""),
    ("nabirds", "HashNet"): ((2.34, 3.29, 4.52, 4.97), "F", HASHNET_NABIRDS_NOTE),
    ("nabirds", "ADSH"): ((2.53, 8.23, 14.71, 25.34), "F,M", ""),
    ("nabirds", "ExchNet"): ((5.22, 15.69, 21.94, 34.81), "F,M", ""),
    ("nabirds", "A²-Net"): ((8.20, 19.15, 24.41, 35.64), "M", ""),
    ("nabirds", "SEMICON"): ((8.12, 19.44, 28.26, 41.15), "M", ""),
    ("nabirds", "AMGH"): ((None, None, None, None), "M", "not reported by Multi-FusNet"),
    ("vegfru", "DPSH"): ((6.33, 9.05, 10.28, 9.11), "F,M", ""),
    ("vegfru", "HashNet"): ((3.70, 6.24, 7.83, 10.29), "F,M", ""),
    ("vegfru", "ADSH"): ((8.24, 24.90, 36.53, 55.15), "F,M", ""),
    ("vegfru", "ExchNet"): ((23.55, 35.93, 48.27, 69.30), "F,M", ""),
    ("vegfru", "A²-Net"): ((25.52, 44.73, 52.75, 69.77), "M", ""),
    ("vegfru", "SEMICON"): ((30.32, 58.45, 69.92, 79.77), "M", ""),
    ("vegfru", "AMGH"): ((43.99, 68.05, 76.73, 84.49), "M", ""),
    ("food101", "DPSH"): ((11.82, 13.05, 16.41, 20.06), "F,M", ""),
    ("food101", "HashNet"): ((24.42, 34.48, 35.90, 39.65), "F,M", ""),
    ("food101", "ADSH"): ((35.64, 40.93, 42.89, 48.81), "F,M", ""),
    ("food101", "ExchNet"): ((45.63, 55.48, 56.39, 64.19), "F,M", ""),
    ("food101", "A²-Net"): ((46.44, 66.87, 74.27, 82.13), "M", ""),
    ("food101", "SEMICON"): ((50.00, 76.57, 80.19, 82.44), "M", ""),
    ("food101", "AMGH"): ((62.59, 80.94, 82.31, 83.21), "M", ""),
    # the two papers' own methods (docs/methods.md sections 2.5, 3.7)
    ("cub", "FCAENet"): ((34.76, 67.67, 73.85, 80.14), "F", ""),
    ("aircraft", "FCAENet"): ((43.92, 75.46, 81.61, 81.34), "F", ""),
    ("nabirds", "FCAENet"): ((12.56, 23.90, 31.58, 49.74), "F", ""),
    ("vegfru", "FCAENet"): ((21.76, 50.36, 67.46, 79.76), "F", ""),
    ("food101", "FCAENet"): ((44.97, 76.56, 81.37, 83.14), "F", ""),
    ("cub", "Multi-FusNet"): ((72.02, 78.70, 82.67, 84.69), "M", ""),
    ("aircraft", "Multi-FusNet"): ((74.74, 85.27, 87.35, 88.20), "M", ""),
    ("food101", "Multi-FusNet"): ((79.04, 81.43, 82.55, 84.03), "M", ""),
    ("nabirds", "Multi-FusNet"): ((73.19, 79.96, 81.10, 82.11), "M", ""),
    ("vegfru", "Multi-FusNet"): ((79.94, 81.03, 84.54, 85.79), "M", ""),
}


@dataclass(frozen=True)
class Reported:
    """One reported figure: value in % (None: the paper gives none), where it is printed, and a note (a known
    transcription error or a cross-check) or ""."""

    method: str
    dataset: str
    bits: int
    value: float | None
    source: str
    note: str = ""

    @property
    def flagged(self) -> bool:
        return "transcription error" in self.note

    def describe(self) -> str:
        value = f"{self.value:.2f}" if self.value is not None else "not reported"
        text = f"{value} ({self.source})"
        return text + (f"; {self.note}" if self.note else "")


def reported(method: str, dataset: str, bits: int) -> Reported | None:
    """The paper's figure for an fghash method name (or a paper name), dataset kind and code length; None where
    no paper gives one (other datasets or bit lengths, FISH)."""
    paper = next((p for p, m in PAPER_NAMES.items() if m == method), method)
    entry = _TABLE.get((dataset, paper))
    if entry is None or bits not in BITS:
        return None
    values, sources, note = entry
    source = " and ".join(SOURCES[s] for s in sources.split(","))
    return Reported(paper, dataset, bits, values[BITS.index(bits)], source, note)


def reported_rows(dataset: str) -> dict[str, tuple[float | None, ...]]:
    """{paper method name: values at BITS} for one dataset kind, in the table's order."""
    return {paper: values for (kind, paper), (values, _, _) in _TABLE.items() if kind == dataset}
