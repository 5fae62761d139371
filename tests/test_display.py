"""Headers for people and fixed country colours (the app's charts and tables use both)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from optimizer.output.colors import FIXED, UNMET, country_color, country_colors
from optimizer.output.display import for_people, header, number_formats
from tests.conftest import ROOT


def test_headers_name_the_unit_and_the_format() -> None:
    assert header("landed_usd_per_kg") == ("Landed ($/kg)", "dollar")
    assert header("purchase_usd") == ("Purchase ($)", "dollar")
    assert header("quantity_t") == ("Quantity (t)", "localized")
    assert header("tariff_rate") == ("Tariff rate (%)", "percent")
    assert header("max_china_share") == ("Max China share (%)", "percent")
    assert header("supplier") == ("Supplier", None)
    df = pd.DataFrame({"scenario": ["b"], "tariff_rate": [0.2], "china": [True]})
    assert list(for_people(df)) == ["Tariff rate (%)", "China"]
    assert number_formats(df) == {"Tariff rate (%)": "percent"}  # a bool is not a number


def test_colours_are_fixed_distinct_and_stable_across_processes() -> None:
    assert country_color("China") == "#d62728"
    assert country_colors(["Japan", "China", "Japan"]) == {"Japan": "#9467bd", "China": "#d62728"}
    named = [c for c in FIXED if c != UNMET]
    assert len({FIXED[c] for c in named}) == len(named)  # no two countries share a colour
    code = "from optimizer.output.colors import country_color as c; print(c('Atlantis'))"
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == country_color("Atlantis")  # no per-process hash seed
