"""The workbook contract, declared once as data.

The reader, the validator, the template writer and the user docs all read these
specs, so a column added here is read, checked, offered in the template and
documented without touching any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """How a cell is parsed."""

    TEXT = "text"
    NUMBER = "number"  # finite, >= 0
    RATE = "rate"  # fraction in [0, 1]; a percent-formatted cell is the same value
    BOOL = "bool"  # TRUE/FALSE, yes/no, 1/0
    PERIOD = "period"  # a label such as 2026, kept as text
    CHOICE = "choice"  # one of ColumnSpec.choices
    ANY = "any"  # parsed later by whatever the row points at (Settings.value, Scenarios.value)


@dataclass(frozen=True)
class ColumnSpec:
    """One column: name as written in row 1 (case-insensitive), type, unit, default, meaning."""

    name: str
    kind: Kind
    required: bool = False
    default: object = None
    unit: str = ""
    description: str = ""
    choices: tuple[str, ...] = ()
    #: the template offers a dropdown of the values in this sheet's first column
    lookup: str | None = None


@dataclass(frozen=True)
class SheetSpec:
    """One sheet: its columns and which of them identify a row (for duplicates and scenarios)."""

    name: str
    required: bool
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    extra: str = ""

    def column(self, name: str) -> ColumnSpec:
        """The spec of a column by (case-insensitive) name."""
        for col in self.columns:
            if col.name == name.lower():
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class SettingSpec:
    """One row of the Settings sheet."""

    name: str
    kind: Kind
    default: object
    unit: str
    description: str


YES_NO = ("TRUE", "FALSE")

SOURCE_NOTE = "Any other column (e.g. `source`, `note`) is allowed and ignored by the model."

SHEETS: Final[tuple[SheetSpec, ...]] = (
    SheetSpec(
        "Materials",
        True,
        "The materials being sourced.",
        (
            ColumnSpec("material", Kind.TEXT, True, description="Material name, e.g. NdPr oxide."),
            ColumnSpec("unit", Kind.TEXT, default="t", description="Quantity unit (tonnes)."),
        ),
        key=("material",),
    ),
    SheetSpec(
        "Demand",
        True,
        "Demand per material and period. Periods are taken in order of first appearance here.",
        (
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec("period", Kind.PERIOD, True, description="Period label, e.g. 2026."),
            ColumnSpec("demand_t", Kind.NUMBER, True, unit="t", description="Demand in tonnes."),
        ),
        key=("material", "period"),
    ),
    SheetSpec(
        "Countries",
        True,
        "Origin countries with their US tariff rate.",
        (
            ColumnSpec("country", Kind.TEXT, True, description="Country of origin."),
            ColumnSpec(
                "tariff_rate",
                Kind.RATE,
                True,
                unit="fraction",
                description="US tariff on the customs value (price paid), e.g. 0.19 for 19%.",
            ),
            ColumnSpec(
                "allied",
                Kind.BOOL,
                default=False,
                description="Counts towards the allied-share minimum.",
            ),
            ColumnSpec(
                "china",
                Kind.BOOL,
                default=None,
                description="China origin for exclusion and the China share cap "
                "(default: TRUE only for the row named China).",
            ),
        ),
        key=("country",),
    ),
    SheetSpec(
        "Suppliers",
        True,
        "Supplier facilities.",
        (
            ColumnSpec("supplier", Kind.TEXT, True, description="Facility name."),
            ColumnSpec("country", Kind.TEXT, True, lookup="Countries", description="Origin."),
            ColumnSpec(
                "capacity_t",
                Kind.NUMBER,
                unit="t per period",
                description="Capacity shared by all its offers (blank = no limit).",
            ),
            ColumnSpec(
                "high_standard",
                Kind.BOOL,
                default=False,
                description="Sells in a high-standard marketplace: `high_standard` floors apply.",
            ),
        ),
        key=("supplier",),
    ),
    SheetSpec(
        "Offers",
        True,
        "What each supplier offers, at what price.",
        (
            ColumnSpec("supplier", Kind.TEXT, True, lookup="Suppliers", description="Facility."),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec(
                "price_usd_per_kg",
                Kind.NUMBER,
                True,
                unit="USD/kg",
                description="Quoted price (customs value before any floor).",
            ),
            ColumnSpec(
                "max_t",
                Kind.NUMBER,
                unit="t per period",
                description="Most this offer can supply per period (blank = no limit).",
            ),
            ColumnSpec(
                "freight_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg",
                description="Freight and insurance; not part of the customs value.",
            ),
            ColumnSpec(
                "period",
                Kind.PERIOD,
                description="Blank = every period without a specific row "
                "for the same supplier and material.",
            ),
        ),
        key=("supplier", "material", "period"),
    ),
    SheetSpec(
        "TariffOverrides",
        False,
        "Per-material tariff rates that replace the country rate (exemptions, MFN duties).",
        (
            ColumnSpec("country", Kind.TEXT, True, lookup="Countries", description="Origin."),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec("tariff_rate", Kind.RATE, True, unit="fraction", description="Rate."),
        ),
        key=("country", "material"),
    ),
    SheetSpec(
        "PriceFloors",
        False,
        "Minimum price paid per material (high-standard marketplaces).",
        (
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec(
                "floor_usd_per_kg", Kind.NUMBER, True, unit="USD/kg", description="Price floor."
            ),
            ColumnSpec(
                "applies_to",
                Kind.CHOICE,
                default="high_standard",
                choices=("high_standard", "all"),
                description="`high_standard`: only high-standard suppliers; `all`: every supplier.",
            ),
        ),
        key=("material",),
    ),
    SheetSpec(
        "Offtakes",
        False,
        "Offtake agreements on a supplier's offer of a material.",
        (
            ColumnSpec("supplier", Kind.TEXT, True, lookup="Suppliers", description="Facility."),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec(
                "min_t", Kind.NUMBER, default=0.0, unit="t per period", description="Minimum."
            ),
            ColumnSpec(
                "max_t",
                Kind.NUMBER,
                unit="t per period",
                description="Maximum (blank = offer limit).",
            ),
            ColumnSpec(
                "take_or_pay",
                Kind.RATE,
                unit="fraction",
                description="Share of price paid on the untaken minimum (blank = hard minimum).",
            ),
            ColumnSpec(
                "contract_price_usd_per_kg",
                Kind.NUMBER,
                unit="USD/kg",
                description="Contract price (blank = offer price).",
            ),
        ),
        key=("supplier", "material"),
    ),
    SheetSpec(
        "Stockpile",
        False,
        "Strategic stock carried between periods.",
        (
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec(
                "initial_t", Kind.NUMBER, default=0.0, unit="t", description="Stock at the start."
            ),
            ColumnSpec(
                "reserve_t",
                Kind.NUMBER,
                default=0.0,
                unit="t",
                description="Minimum stock at the end of every period.",
            ),
            ColumnSpec(
                "holding_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg per period",
                description="Cost of holding stock through a period.",
            ),
        ),
        key=("material",),
    ),
    SheetSpec(
        "Settings",
        False,
        "Policy switches; one row per setting (see the settings table).",
        (
            ColumnSpec("setting", Kind.TEXT, True, description="Setting name."),
            ColumnSpec("value", Kind.ANY, True, description="Setting value."),
        ),
        key=("setting",),
    ),
    SheetSpec(
        "Scenarios",
        False,
        "Named scenarios: each row overrides one input cell; rows with the same "
        "scenario name form one scenario.",
        (
            ColumnSpec("scenario", Kind.TEXT, True, description="Scenario name."),
            ColumnSpec("sheet", Kind.TEXT, True, description="Sheet whose cell is overridden."),
            ColumnSpec(
                "key",
                Kind.TEXT,
                True,
                description="Row key: key columns' values joined by `|`; `*` or a missing "
                "trailing part matches every row.",
            ),
            ColumnSpec("column", Kind.TEXT, True, description="Column to override."),
            ColumnSpec("value", Kind.ANY, description="New value (blank = blank cell)."),
            ColumnSpec("description", Kind.TEXT, description="What the scenario means."),
        ),
        key=("scenario", "sheet", "key", "column"),
    ),
    SheetSpec(
        "Risks",
        False,
        "Disruption probabilities for the stress test (`sourcing stress`); without this sheet "
        "the documented defaults of docs/stress.md apply. The plan itself ignores it.",
        (
            ColumnSpec(
                "risk",
                Kind.CHOICE,
                True,
                choices=("supplier_outage", "country_outage", "export_ban", "tariff_shock"),
                description="What happens: a supplier or a country stops supplying, China stops "
                "exporting a material (its China-origin offers), or a country's tariff rises.",
            ),
            ColumnSpec(
                "target",
                Kind.TEXT,
                True,
                description="Supplier, country, or (export_ban) material; `*` = each one "
                "independently, `any` = one drawn at random.",
            ),
            ColumnSpec(
                "probability",
                Kind.RATE,
                True,
                unit="fraction per sample",
                description="Chance that the disruption happens in a sample (one draw of the "
                "whole horizon).",
            ),
            ColumnSpec(
                "magnitude",
                Kind.RATE,
                unit="fraction",
                description="Share of supply lost (blank = 1, a full outage); for tariff_shock "
                "the rate added (blank = 0.25, i.e. +25 points; the new rate is capped at 1).",
            ),
            ColumnSpec(
                "from_period",
                Kind.PERIOD,
                description="First period hit (blank = every period).",
            ),
            ColumnSpec("note", Kind.TEXT, description="Why this probability."),
        ),
        key=("risk", "target"),
    ),
)

SHEETS_BY_NAME: Final[dict[str, SheetSpec]] = {s.name.lower(): s for s in SHEETS}

SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec("exclude_china", Kind.BOOL, False, "", "No purchase of China origin."),
    SettingSpec(
        "max_china_share",
        Kind.RATE,
        1.0,
        "fraction",
        "Most of each material's purchases per period that may be of China origin.",
    ),
    SettingSpec(
        "max_country_share",
        Kind.RATE,
        1.0,
        "fraction",
        "Most of each material's purchases per period from any one country.",
    ),
    SettingSpec(
        "min_allied_share",
        Kind.RATE,
        0.0,
        "fraction",
        "Least of each material's purchases per period from allied countries.",
    ),
    SettingSpec(
        "unmet_penalty_usd_per_kg",
        Kind.NUMBER,
        100_000.0,
        "USD/kg",
        "Cost charged for each kg of demand left unmet.",
    ),
    SettingSpec(
        "allow_unmet",
        Kind.BOOL,
        True,
        "",
        "FALSE: demand must be met in full, or the plan is infeasible.",
    ),
)

SETTINGS_BY_NAME: Final[dict[str, SettingSpec]] = {s.name: s for s in SETTINGS}


KG_PER_T: Final[float] = 1000.0
