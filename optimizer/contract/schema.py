"""The workbook contract, declared once as data.

The reader, the validator, the template writer and the user docs all read these
specs, so a column added here is read, checked, offered in the template and
documented without touching any of them. The supply-chain sheets (Processes,
Inputs, Coproducts, Routes) are declared in `optimizer.contract.chain_schema`.
"""

from __future__ import annotations

from typing import Final

from optimizer.contract.chain_schema import CHAIN_SHEETS
from optimizer.contract.responsible_schema import RESPONSIBLE_SHEETS
from optimizer.contract.spec import ColumnSpec, Kind, SheetSpec

SHEETS: Final[tuple[SheetSpec, ...]] = (
    SheetSpec(
        "Materials",
        True,
        "The materials being sourced.",
        (
            ColumnSpec("material", Kind.TEXT, True, description="Material name, e.g. NdPr oxide."),
            ColumnSpec("unit", Kind.TEXT, default="t", description="Quantity unit (tonnes)."),
            ColumnSpec(
                "hts",
                Kind.TEXT,
                description="US tariff classification (HTS), e.g. 2846.90.20; Tariffs rows may "
                "name it, or its first digits, instead of the material.",
            ),
            ColumnSpec(
                "reference_price_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg",
                description="Market price, for customs values of process outputs and co-products "
                "and for reports (blank = 0).",
            ),
            ColumnSpec(
                "stage",
                Kind.TEXT,
                description="The stage that makes this material, e.g. mining, separation, metal, "
                "magnet: labels origin by stage (blank = the process name, or `offer` for an "
                "offer).",
            ),
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
            ColumnSpec(
                "compliant",
                Kind.BOOL,
                default=False,
                description="TRUE: a compliant segment (e.g. DFARS defence demand): every stage of "
                "every delivered tonne must be outside Settings `excluded_stage_countries`. A "
                "material and period may have one compliant and one other row.",
            ),
        ),
        key=("material", "period", "compliant"),
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
                unit="fraction",
                description="Flat US tariff on the customs value (price paid), e.g. 0.19 for "
                "19%: required when the workbook has no Tariffs rows, and left blank when it has "
                "(the measures set the rate).",
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
        False,
        "What each supplier offers, at what price (required unless Processes rows make the "
        "materials). An offered material goes to the buyer or, along a route, to a facility "
        "that uses it.",
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
            ColumnSpec(
                "compliant",
                Kind.BOOL,
                default=False,
                description="TRUE: the chain behind the offer is known to have no stage in an "
                "excluded country, so it may serve compliant demand (default FALSE: provenance "
                "the workbook does not model is not assumed clean).",
            ),
            ColumnSpec(
                "emissions_kg_co2e_per_kg",
                Kind.NUMBER,
                unit="kg CO2e/kg",
                description="Cradle-to-gate greenhouse-gas intensity of the offered material "
                "(GWP100; mining to the seller's gate). Blank = unknown: reported as unknown, "
                "never counted as zero in a total (Settings unknown_emissions says how a carbon "
                "price or cap treats it).",
            ),
        ),
        key=("supplier", "material", "period"),
    ),
    *CHAIN_SHEETS,
    *RESPONSIBLE_SHEETS,
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
        "Tariffs",
        False,
        "US tariff measures by legal basis and date. A period pays every measure in force "
        "during it, weighted by the share of the period it is in force; within one basis the "
        "most specific row applies (a material before an HTS prefix, longer first, before "
        "every material; then a named country before every country); bases stack as the law "
        "stacks them (see the stacking table). Rows with a blank regime belong to every "
        "regime; Settings `tariff_regime` picks the regime (default: the first one named here). "
        "Goods of the importer country (Settings `importer_country`) pay none.",
        (
            ColumnSpec(
                "regime",
                Kind.TEXT,
                description="Named tariff regime this row belongs to (blank = every regime).",
            ),
            ColumnSpec(
                "country",
                Kind.TEXT,
                lookup="Countries",
                description="Origin (blank or * = every origin).",
            ),
            ColumnSpec(
                "material",
                Kind.TEXT,
                lookup="Materials",
                description="Material (blank = every material, or those matching `hts`).",
            ),
            ColumnSpec(
                "hts",
                Kind.TEXT,
                description="HTS code or its first digits (blank = any): matches Materials `hts`.",
            ),
            ColumnSpec(
                "basis",
                Kind.CHOICE,
                True,
                choices=(
                    "mfn",
                    "trade_agreement",
                    "section_301",
                    "section_232",
                    "section_122",
                    "ieepa_reciprocal",
                    "ieepa_fentanyl",
                    "other",
                ),
                description="Legal basis (it sets how the rate stacks with the others).",
            ),
            ColumnSpec(
                "rate",
                Kind.RATE,
                True,
                unit="fraction",
                description="Rate on the customs value, e.g. 0.25 for 25%.",
            ),
            ColumnSpec(
                "from_date",
                Kind.DATE,
                description="First day in force (blank = always in force before `to_date`).",
            ),
            ColumnSpec(
                "to_date",
                Kind.DATE,
                description="Last day in force (blank = no end).",
            ),
            ColumnSpec("description", Kind.TEXT, description="What the measure is."),
        ),
        key=("regime", "country", "material", "hts", "basis", "from_date"),
    ),
    SheetSpec(
        "Periods",
        False,
        "Calendar dates of each period, for dated tariff measures. Without a row, a period "
        "labelled as a year (2026) runs from 1 January to 31 December.",
        (
            ColumnSpec("period", Kind.PERIOD, True, description="Period label, as in Demand."),
            ColumnSpec("start", Kind.DATE, True, description="First day of the period."),
            ColumnSpec("end", Kind.DATE, True, description="Last day of the period."),
        ),
        key=("period",),
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
            ColumnSpec(
                "paid_by",
                Kind.CHOICE,
                default="buyer",
                choices=("buyer", "government"),
                description="`buyer`: the buyer pays at least the floor (a high-standard "
                "marketplace; the floor is the customs value); `government`: the buyer pays the "
                "offer price and the government pays the gap to the floor on what is bought "
                "(price support, as in the DoD-MP deal), reported as fiscal cost.",
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
            ColumnSpec(
                "decide",
                Kind.BOOL,
                default=False,
                description="TRUE: `sourcing resilient` decides the volume signed per period, "
                "between min_t and max_t (max_t required), before disruptions are known; the "
                "offer is then bought only under the contract. `solve` reads the row as "
                "min_t/max_t, as without it.",
            ),
            ColumnSpec(
                "reserve_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg signed",
                description="With decide: a fee per kg signed, paid whether taken or not (with "
                "take_or_pay 0 the row is an option: reserved capacity).",
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
            ColumnSpec(
                "max_t",
                Kind.NUMBER,
                unit="t",
                description="Most stock held at the end of every period (blank = no limit).",
            ),
            ColumnSpec(
                "compliant",
                Kind.BOOL,
                default=False,
                description="TRUE: the initial stock may serve compliant demand (stock keeps its "
                "grade: stock bought compliant stays compliant).",
            ),
            ColumnSpec(
                "decide",
                Kind.BOOL,
                default=False,
                description="TRUE: `sourcing resilient` decides a stock build, bought now (before "
                "disruptions are known) and in stock from the first period, between build_min_t "
                "and build_max_t (required).",
            ),
            ColumnSpec(
                "build_min_t", Kind.NUMBER, default=0.0, unit="t", description="Least build."
            ),
            ColumnSpec("build_max_t", Kind.NUMBER, unit="t", description="Most build."),
            ColumnSpec(
                "build_price_usd_per_kg",
                Kind.NUMBER,
                unit="USD/kg",
                description="Price of a build (blank = the lowest landed cost of the material's "
                "first-period offers, undisrupted).",
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


KG_PER_T: Final[float] = 1000.0
