"""Checks of the responsible-sourcing inputs: EmissionsCaps, Indicators and their Settings.

Negative and non-finite intensities are refused by the cell parser (Kind.NUMBER);
here: references, duplicates, 0/1 flags, and the Settings words.
"""

from __future__ import annotations

from optimizer.common.problems import Problem
from optimizer.contract.checks import check_duplicates, check_reference
from optimizer.contract.records import Inputs
from optimizer.contract.responsible_schema import FLAG_INDICATORS

#: Settings rows that take one of a few words.
WORDS = {
    "unknown_emissions": ("highest", "zero"),
    "high_standard_rule": ("flag", "indicators"),
}


def check_responsible(inputs: Inputs) -> list[Problem]:
    """EmissionsCaps and Indicators rows name real rows; flags are 0/1; rule words are known."""
    materials = [m.material for m in inputs.materials]
    problems = [
        *check_duplicates("EmissionsCaps", inputs.emission_caps, ("material", "period")),
        *check_reference(inputs.emission_caps, "material", materials, "material", "Materials"),
        *check_duplicates("Indicators", inputs.indicators, ("country", "supplier", "indicator")),
        *check_reference(
            inputs.indicators,
            "country",
            [c.country for c in inputs.countries],
            "country",
            "Countries",
        ),
        *check_reference(
            inputs.indicators,
            "supplier",
            [s.supplier for s in inputs.suppliers],
            "supplier",
            "Suppliers",
        ),
    ]
    periods = inputs.periods
    for cap in inputs.emission_caps:
        if cap.period is not None and cap.period not in periods:
            problems.append(
                Problem.at(
                    cap.refs["period"],
                    f'period "{cap.period}" is not a Demand period ({", ".join(periods)})',
                )
            )
    for row in inputs.indicators:
        if not row.country and not row.supplier:
            problems.append(
                Problem.at(row.refs["country"], "name the country or the supplier it describes")
            )
        if row.indicator in FLAG_INDICATORS and row.value not in (0.0, 1.0):
            problems.append(
                Problem.at(
                    row.refs["value"], f"{row.indicator} is a flag: 0 or 1 (found {row.value:g})"
                )
            )
    s = inputs.settings
    for name, words in WORDS.items():
        value = str(getattr(s, name)).strip().lower()
        if value not in words:
            problems.append(
                Problem.at(
                    s.refs.get(name, "Settings!"),
                    f"{name} must be one of {', '.join(words)} (found {getattr(s, name)!r})",
                )
            )
    if s.high_standard_rule.strip().lower() == "indicators" and not inputs.indicators:
        problems.append(
            Problem.at(
                s.refs.get("high_standard_rule", "Settings!"),
                "high_standard_rule is `indicators` but there are no Indicators rows: no "
                "supplier would be high-standard",
                "warning",
            )
        )
    return problems
