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


def test_sankey_nodes_take_their_country_colour_and_links_a_stable_material_colour() -> None:
    """Facilities are coloured as their country is in every chart (China red), marked when
    excluded; a material's link colour does not depend on which others flow."""
    import pandas as pd

    from optimizer.output.colors import country_color
    from optimizer.output.sankey import sankey_spec

    def flows(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "from": f,
                    "to": t,
                    "material": m,
                    "period": "2026",
                    "quantity_t": 1.0,
                    "value_usd": 1.0,
                    "compliant": False,
                    "from_country": c,
                }
                for f, t, m, c in rows
            ]
        )

    both = sankey_spec(
        flows([("CN1", "buyer", "Ga", "China"), ("JP1", "buyer", "Ge", "Japan")]), "t"
    )
    node = both["data"][0]["node"]
    assert node["color"][node["label"].index("CN1 (China · excluded)")] == "#d62728"
    assert node["color"][node["label"].index("JP1 (Japan)")] == country_color("Japan")
    alone = sankey_spec(flows([("JP1", "buyer", "Ge", "Japan")]), "t")
    assert alone["data"][0]["link"]["color"] == both["data"][0]["link"]["color"][1:]
