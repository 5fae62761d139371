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
    SettingSpec(
        "carbon_price_usd_per_t_co2e",
        Kind.NUMBER,
        0.0,
        "USD/t CO2e",
        "Internal carbon price the objective adds per t CO2e of the plan (a modelling price, "
        "as the unmet-demand penalty: reported apart, never in buyer spend).",
    ),
    SettingSpec(
        "unknown_emissions",
        Kind.TEXT,
        "highest",
        "",
        "How a source with no stated intensity counts under a carbon price or an emissions "
        "cap: `highest` (the highest intensity stated for the same material's offers, or "
        "the same output's processes, else the highest stated anywhere: a cap never favours "
        "a source for being undocumented) or `zero`. Totals never include it either way: it "
        "is reported as unknown.",
    ),
    SettingSpec(
        "high_standard_rule",
        Kind.TEXT,
        "flag",
        "",
        "`flag`: a supplier is high-standard as its Suppliers high_standard says; "
        "`indicators`: when its Indicators meet the two settings below (a missing indicator "
        "fails).",
    ),
    SettingSpec(
        "high_standard_max_forced_labour_per_1000",
        Kind.NUMBER,
        5.0,
        "per 1,000",
        "With high_standard_rule `indicators`: the highest forced_labour_per_1000 a "
        "high-standard supplier's country may have; it must also not be "
        "child_or_forced_labour_listed.",
    ),
    SettingSpec(
        "high_standard_requires_audit",
        Kind.BOOL,
        False,
        "",
        "With high_standard_rule `indicators`: TRUE also requires irma_audit = 1 at the site.",
    ),
    SettingSpec(
        "risk_weight",
        Kind.NUMBER,
        0.0,
        "",
        "`sourcing resilient`: lambda, the weight of CVaR in expected cost + lambda x CVaR "
        "(0 = risk-neutral).",
    ),
    SettingSpec(
        "cvar_level",
        Kind.RATE,
        0.95,
        "fraction",
        "`sourcing resilient`: alpha of CVaR, strictly between 0 and 1 (0.95: the mean cost of "
        "the worst 5% of samples).",
    ),
)

SETTINGS_BY_NAME: Final[dict[str, SettingSpec]] = {s.name: s for s in SETTINGS}
