"""Why a what-if's change moved nothing, in the planner's words.

Read from the solved what-if's own tables, no extra solve: an offer the planner added or
edited that the plan does not buy is explained by its landed cost against the landed cost
at which it would enter (landed minus its reduced cost, `Results.breakevens_by_period`),
naming the bought offer it loses to; a tariff change on a country whose tonnes do not move
is explained by what the plan imports from that country (shipments to the buyer or into
the importer country) before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from optimizer.contract.tables import Tables, row_id
from optimizer.output.results import Results
from optimizer.runs.session import tariff_words

#: Tonnes within which two volumes count as the same.
SAME_T = 1e-6
#: Two landed costs within this fraction name the same marginal offer.
MARGINAL_TOL = 0.005


def usd_kg(value: float) -> str:
    """A price per kg for people: "$5,755/kg", "$94.20/kg" below $100."""
    return f"${value:,.0f}/kg" if abs(value) >= 100 else f"${value:,.2f}/kg"


def touched_offers(
    edited: Mapping[str, list[dict[str, Any]]], base: Tables
) -> list[tuple[str, str]]:
    """(supplier, material) of every Offers or Offtakes row added or changed, in order: a
    row equal to one of the sheet's rows as loaded is untouched wherever it now sits (a
    deleted row above does not touch every row below it)."""
    out: list[tuple[str, str]] = []
    for sheet in ("Offers", "Offtakes"):
        loaded = {row_id(r) for r in base.get(sheet, [])}
        for row in edited.get(sheet, []):
            if row_id(row) in loaded:
                continue
            if row.get("supplier") and row.get("material"):
                out.append((str(row["supplier"]), str(row["material"])))
    return list(dict.fromkeys(out))


def closest(rows: pd.DataFrame) -> tuple[pd.Series, float] | None:
    """The purchase (row of break-evens) closest to entering, with the landed cost below
    which it enters; None when no row has a reduced cost to say so."""
    entry = pd.to_numeric(rows["enters_below_usd_per_kg"], errors="coerce")
    gap = (rows["landed_usd_per_kg"] - entry).to_numpy(dtype=float)
    if np.isnan(gap).all():
        return None
    pos = int(np.nanargmin(gap))
    return rows.iloc[pos], float(entry.iloc[pos])


def offer_reason(res: Results, supplier: str, material: str) -> str | None:
    """Why the plan buys none of this offer ("... is not bought: it lands at $5,755/kg, $1/kg
    above Umicore Belgium; it enters below $5,754/kg"), from the period where it comes
    closest; None when it is bought (or the plan has no such offer)."""
    be = res.breakevens_by_period
    if be.empty:
        return None
    mine = be[(be["supplier"] == supplier) & (be["material"] == material)]
    if mine.empty:
        return (
            f"{supplier} {material} is not bought: the plan cannot buy it in any period "
            "(excluded, no capacity, outside the plan's periods, or no demand or route "
            "takes it)"
        )
    if (mine["bought_t"] > SAME_T).any():
        return None
    found = closest(mine)
    row, enters = found if found is not None else (mine.iloc[0], None)
    landed = float(row["landed_usd_per_kg"])
    where = f" in {row['period']}" if mine["period"].nunique() > 1 else ""
    text = f"{supplier} {material} is not bought{where}: it lands at {usd_kg(landed)}"
    if enters is None:
        return text + " (no reduced cost to say where it would enter)"
    rivals = be[
        (be["material"] == material)
        & (be["period"] == row["period"])
        & (be["bought_t"] > SAME_T)
        & ((be["landed_usd_per_kg"] - enters).abs() <= MARGINAL_TOL * max(abs(enters), 1.0))
    ]
    if len(rivals):
        rival = rivals.iloc[0]
        above = landed - float(rival["landed_usd_per_kg"])
        text += f", {usd_kg(above)} above {rival['supplier']}"
    else:
        text += f", {usd_kg(landed - enters)} above what the plan pays at the margin there"
    if enters <= 0:
        return text + "; it would not enter even free (another limit binds)"
    return text + f"; it enters below {usd_kg(enters)}"


def country_tonnes(res: Results, country: str, importer: str = "United States") -> float:
    """Tonnes that pay a country's US duty in a plan: what it ships to the buyer or into the
    importer country (a chain's facilities there too), all materials and periods."""
    f = res.flows
    if len(f):
        into = (f["to"] == "buyer") | (f["to_country"].astype(str).str.lower() == importer.lower())
        return float(f.loc[(f["from_country"] == country) & into, "quantity_t"].sum())
    a = res.allocation
    return float(a.loc[a["country"] == country, "quantity_t"].sum()) if len(a) else 0.0


def tariff_reason(
    res: Results, base: Results, country: str, rate: float, importer: str = "United States"
) -> str | None:
    """Why a tariff change on `country` moved none of the tonnes that pay its duty; None
    when they moved."""
    before = country_tonnes(base, country, importer)
    after = country_tonnes(res, country, importer)
    if abs(after - before) > SAME_T:
        return None
    if after > SAME_T:
        return (
            f"{tariff_words(country, rate)} moves no tonnes: the plan still imports the same "
            f"{after:,.1f} t from {country} (no cheaper source; it pays the new duty)"
        )
    why = f"{tariff_words(country, rate)} moves nothing: nothing from {country} is bought, "
    why += "before or after"
    be = res.breakevens_by_period
    mine = be[be["country"] == country] if len(be) else be
    if mine.empty:
        return why
    found = closest(mine)
    if found is None:
        return why
    row, enters = found
    then = f"enters below {usd_kg(enters)}" if enters > 0 else "would not enter even free"
    return why + (
        f"; its closest offer, {row['supplier']} {row['material']} in {row['period']}, "
        f"lands at {usd_kg(float(row['landed_usd_per_kg']))} and {then}"
    )


def no_effect_reasons(
    tariffs: Mapping[str, float],
    edited: Mapping[str, list[dict[str, Any]]],
    base_tables: Tables,
    res: Results,
    base: Results,
    importer: str = "United States",
) -> list[str]:
    """A sentence per change that moved nothing it touches: tariff changes whose country's
    dutiable tonnes stay, added or edited offers and offtakes the plan does not buy."""
    out = [
        r
        for c, rate in sorted(tariffs.items())
        if (r := tariff_reason(res, base, c, rate, importer)) is not None
    ]
    out += [
        r
        for s, m in touched_offers(edited, base_tables)
        if (r := offer_reason(res, s, m)) is not None
    ]
    return out
