"""Tables for people: plain-English headers with units, and how each column is formatted.

The app shows result tables through `for_people`: `purchase_usd` becomes
"Purchase ($)", `landed_usd_per_kg` "Landed ($/kg)", `tariff_rate` "Tariff rate (%)",
`quantity_t` "Quantity (t)". `number_formats` says, per new header, which Streamlit
number format to use ("dollar", "percent", "localized"), so money carries a $ and
thousands separators, shares read as percentages and tonnes as grouped figures.
"""

from __future__ import annotations

import pandas as pd

#: Suffix -> (unit shown in the header, Streamlit NumberColumn format), longest first.
#: A unit that is a word of the name (rate, share) stays in the header: "Tariff rate (%)".
UNITS: tuple[tuple[str, str, str], ...] = (
    ("_kg_co2e_per_kg", "kg CO2e/kg", "localized"),
    ("_usd_per_kg", "$/kg", "dollar"),
    ("_usd_per_t_co2e", "$/t CO2e", "dollar"),
    ("_t_co2e", "t CO2e", "localized"),
    ("_usd", "$", "dollar"),
    ("_t", "t", "localized"),
)
SHARES = ("rate", "share", "share_of_demand", "share_of_tonnes", "share_of_value")

#: Words spelled out in headers.
WORDS = {"usd": "USD", "co2e": "CO2e", "ndpr": "NdPr", "id": "ID", "china": "China"}


def header(column: str) -> tuple[str, str | None]:
    """(plain-English header with its unit, number format or None) for one column name."""
    for suffix, unit, fmt in UNITS:
        if column.endswith(suffix):
            stem = column[: -len(suffix)] if column != suffix.lstrip("_") else column
            stem = stem or column
            words = [WORDS.get(w, w) for w in stem.split("_") if w]
            text = " ".join(words) or column
            return f"{text[0].upper()}{text[1:]} ({unit})", fmt
    words = [WORDS.get(w, w) for w in column.split("_") if w]
    text = " ".join(words) or column
    text = text[0].upper() + text[1:]
    if any(column == s or column.endswith("_" + s) for s in SHARES):
        return f"{text} (%)", "percent"
    return text, None


def for_people(df: pd.DataFrame, drop: tuple[str, ...] = ("scenario",)) -> pd.DataFrame:
    """The table with plain-English headers (and without bookkeeping columns)."""
    kept = df.drop(columns=[c for c in drop if c in df.columns])
    return kept.rename(columns={c: header(str(c))[0] for c in kept.columns})


def number_formats(df: pd.DataFrame) -> dict[str, str]:
    """Per plain-English header of `for_people(df)`, its Streamlit number format."""
    out: dict[str, str] = {}
    for c in df.columns:
        text, fmt = header(str(c))
        if fmt and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            out[text] = fmt
    return out


#: The columns a table shows first (the others stay one click away, under the table's
#: show/hide-columns icon, and all are in the report): it fits 1440 px without scrolling.
MAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "purchases": (
        "supplier",
        "country",
        "material",
        "period",
        "quantity_t",
        "landed_usd_per_kg",
        "cost_usd",
        "tariff_rate",
        "fiscal_usd",
    ),
    "frontier": (
        "max_china_share",
        "buyer_spend_usd",
        "spend_delta_usd",
        "fiscal_cost_usd",
        "unmet_t",
        "china_tonnes_share_max",
        "china_value_share",
    ),
    "shadow_prices": ("constraint", "material", "period", "supplier", "usd_per_kg", "meaning"),
    "breakevens": (
        "supplier",
        "material",
        "period",
        "bought_t",
        "landed_usd_per_kg",
        "enters_below_usd_per_kg",
        "breakeven_tariff_rate",
    ),
    "emissions": (
        "supplier",
        "country",
        "stage",
        "material",
        "period",
        "quantity_t",
        "intensity_kg_co2e_per_kg",
        "emissions_t_co2e",
    ),
}


def main_headers(df: pd.DataFrame, table: str) -> list[str] | None:
    """The plain-English headers `for_people(df)` shows first for a `MAIN_COLUMNS` table."""
    main = MAIN_COLUMNS.get(table)
    if main is None:
        return None
    return [header(c)[0] for c in main if c in df.columns]
