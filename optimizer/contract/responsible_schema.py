"""Responsible sourcing: EmissionsCaps (limits on the plan's CO2e) and Indicators (social risk).

Both sheets are optional. Intensities themselves are columns of Offers and
Processes (`emissions_kg_co2e_per_kg`); the carbon price, how unknown
intensities count and whether high-standard status follows from the
indicators are Settings rows. See docs/model.md, "Emissions".
"""

from __future__ import annotations

from typing import Final

from optimizer.contract.spec import ColumnSpec, Kind, SheetSpec

#: Indicator names an Indicators row may use, with what they measure and their source.
INDICATORS: Final[dict[str, str]] = {
    "forced_labour_per_1000": "people in modern slavery per 1,000 of the country's population "
    "(Walk Free, Global Slavery Index 2023, estimates for 2021)",
    "child_or_forced_labour_listed": "1 if the US Department of Labor's List of Goods Produced "
    "by Child Labor or Forced Labor (TVPRA list, 2024 edition) names a good of this chain from "
    "the country or site, else 0",
    "irma_audit": "1 if the site holds an independent audit against the IRMA Standard for "
    "Responsible Mining (Initiative for Responsible Mining Assurance), else 0",
}
#: Indicators that are 0/1 flags.
FLAG_INDICATORS: Final[frozenset[str]] = frozenset({"child_or_forced_labour_listed", "irma_audit"})

RESPONSIBLE_SHEETS: Final[tuple[SheetSpec, ...]] = (
    SheetSpec(
        "EmissionsCaps",
        False,
        "Most greenhouse gas the plan may cause, in t CO2e: per material and period, per "
        "material over the horizon (blank period), per period over all materials (blank "
        "material) or in all (both blank). A material's emissions are those of making it: its "
        "offers' cradle-to-gate intensity and the processes whose output it is (gate-to-gate); "
        "the all-materials cap counts the whole chain once. Sources with no stated intensity "
        "count as Settings unknown_emissions says.",
        (
            ColumnSpec(
                "material",
                Kind.TEXT,
                lookup="Materials",
                description="Material (blank = all materials).",
            ),
            ColumnSpec("period", Kind.PERIOD, description="Period (blank = the whole horizon)."),
            ColumnSpec(
                "max_t_co2e",
                Kind.NUMBER,
                True,
                unit="t CO2e",
                description="The cap.",
            ),
        ),
        key=("material", "period"),
    ),
    SheetSpec(
        "Indicators",
        False,
        "Social-risk indicators of a country or of one site, each with its source. A site's "
        "row overrides its country's for the same indicator. With Settings high_standard_rule "
        "`indicators`, a supplier is high-standard (so a high-standard price floor applies to "
        "it) only when every threshold is met; a missing indicator fails the rule (risk the "
        "workbook does not state is not assumed absent). Indicators: "
        + "; ".join(f"`{k}`: {v}" for k, v in INDICATORS.items())
        + ".",
        (
            ColumnSpec(
                "country",
                Kind.TEXT,
                lookup="Countries",
                description="Country the row describes (blank when a supplier is named).",
            ),
            ColumnSpec(
                "supplier",
                Kind.TEXT,
                lookup="Suppliers",
                description="Site the row describes (blank = every site in the country).",
            ),
            ColumnSpec(
                "indicator",
                Kind.CHOICE,
                True,
                choices=tuple(INDICATORS),
                description="Which indicator.",
            ),
            ColumnSpec("value", Kind.NUMBER, True, description="Its value (flags: 0 or 1)."),
            ColumnSpec("source", Kind.TEXT, description="Where the value comes from, and when."),
        ),
        key=("country", "supplier", "indicator"),
    ),
)
