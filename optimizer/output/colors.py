"""One colour per origin country, the same in every chart and every solve.

Plotly Express colours traces in the order they appear, so a country's colour
used to depend on which countries a plan happened to buy from (China dark blue
at baseline, orange under a 30% tariff). Charts pass `country_colors(...)` as
their `color_discrete_map` instead. Countries of the default workbook have a
fixed colour; any other country gets one from a stable hash of its name, so it
too never changes between solves or sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: Unmet demand, drawn as its own flagged segment (not a country).
UNMET = "Unmet demand"

#: Fixed colours (China always red; allies in blues and greens; others in distinct hues).
FIXED: dict[str, str] = {
    "China": "#d62728",
    "United States": "#1f3b73",
    "Australia": "#2ca02c",
    "Japan": "#9467bd",
    "South Korea": "#17becf",
    "Canada": "#8c564b",
    "Malaysia": "#ff7f0e",
    "Thailand": "#bcbd22",
    "Vietnam": "#e377c2",
    "Cambodia": "#7f7f7f",
    "Estonia": "#1f77b4",
    "France": "#393b79",
    "Belgium": "#637939",
    "Germany": "#c7a000",
    "Greece": "#6b6ecf",
    "United Kingdom": "#3182bd",
    "DR Congo": "#e6550d",
    "Russia": "#843c39",
    "North Korea": "#7b4173",
    "Iran": "#a55194",
    UNMET: "#000000",
}

#: Colours for countries not listed above, picked by a stable hash of the name.
SPARE = (
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#cedb9c",
    "#e7cb94",
)


def country_color(country: str) -> str:
    """The colour of one country (the same for every call, process and session)."""
    return FIXED.get(country) or stable_pick(country, SPARE)


def country_colors(countries: Iterable[str]) -> dict[str, str]:
    """A plotly `color_discrete_map` for these countries."""
    return {c: country_color(str(c)) for c in dict.fromkeys(countries)}


def stable_pick(name: str, palette: tuple[str, ...]) -> str:
    """A colour of `palette` for `name` from a stable hash: the same in every solve."""
    return palette[hashlib.sha256(name.encode()).digest()[0] % len(palette)]
