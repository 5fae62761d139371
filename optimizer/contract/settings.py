"""The Settings sheet's rows: policy switches, the tariff regime, the cost view, as data.

The reader, the validator, the template and docs/workbook.md all read these specs.
"""

from __future__ import annotations

from typing import Final

from optimizer.contract.spec import Kind, SettingSpec

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
    SettingSpec(
        "tariff_regime",
        Kind.TEXT,
        "",
        "",
        "Tariff regime of the Tariffs sheet to apply (blank: the first one the sheet names).",
    ),
    SettingSpec(
        "data_date",
        Kind.DATE,
        None,
        "",
        "The date the data describes (prices, measures in force); reports quote it.",
    ),
    SettingSpec(
        "importer_country",
        Kind.TEXT,
        "United States",
        "",
        "Where the buyer is and whose tariffs apply (a Countries name, matched case-"
        "insensitively): its own goods pay no Tariffs measure.",
    ),
    SettingSpec(
        "national_cost",
        Kind.BOOL,
        False,
        "",
        "TRUE: the objective adds the fiscal cost of government-paid floors to buyer spend "
        "(a national-cost view); FALSE: the buyer's cost only.",
    ),
    SettingSpec(
        "excluded_stage_countries",
        Kind.TEXT,
        "China",
        "",
        "Countries no stage of a compliant tonne may be in (mined, separated, refined, melted "
        "or made): a comma list of Countries names such as `China, Russia, North Korea, Iran` "
        "(DFARS 252.225-7052), matched case-insensitively; `none` excludes no country.",
    ),
)

SETTINGS_BY_NAME: Final[dict[str, SettingSpec]] = {s.name: s for s in SETTINGS}
