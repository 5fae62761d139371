"""Disruptions applied to a supply chain (contract v2): outages, export bans and tariff shocks.

`optimizer.analysis.risks.apply_disruptions` scales the purchases; this does the
same to the chain, keeping its structure (so a warm engine updates in place):

- a supplier or country outage scales the facility's process capacities (a
  process without one, and its shipments, go to 0 only in a full outage: an
  unlimited bound has no share to keep), and a networked offer's limit;
- an export ban on a material stops China facilities' shipments of it to the
  buyer and to facilities outside China (a partial ban on an unlimited flow
  keeps it: no share of infinity);
- a tariff shock adds points to the rate of the country's shipments that pay US duty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from optimizer.model.chain_data import BUYER, ChainData


class Hit(Protocol):
    """What a disruption says (optimizer.analysis.risks.Disruption)."""

    @property
    def risk(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def magnitude(self) -> float: ...
    @property
    def from_period(self) -> str | None: ...


def _kept(upper: float, share: float) -> float:
    return 0.0 if share <= 0.0 else upper * share if math.isfinite(upper) else upper


def apply_chain_disruptions(
    chain: ChainData, periods: tuple[str, ...], disruptions: Iterable[Hit]
) -> ChainData:
    """A copy of the chain with the disruptions applied (same structure)."""
    country_of = {a.supplier: a.country for a in chain.acts.values()}
    country_of.update({f.from_supplier: f.country for f in chain.ships.values()})
    china = {a.supplier for a in chain.acts.values() if a.china}
    china |= {f.from_supplier for f in chain.ships.values() if f.china}
    site_keep: dict[tuple[str, str], float] = {}  # (facility, period) -> share kept
    ban_keep: dict[tuple[str, str], float] = {}  # (material, period) -> share of exports kept
    added: dict[tuple[str, str], float] = {}  # (country, period) -> tariff points
    for d in disruptions:
        start = periods.index(d.from_period) if d.from_period in periods else 0
        for t in periods[start:]:
            if d.risk == "supplier_outage":
                site_keep[(d.target, t)] = site_keep.get((d.target, t), 1.0) * (1 - d.magnitude)
            elif d.risk == "country_outage":
                for s, c in country_of.items():
                    if c == d.target:
                        site_keep[(s, t)] = site_keep.get((s, t), 1.0) * (1 - d.magnitude)
            elif d.risk == "export_ban":
                ban_keep[(d.target, t)] = ban_keep.get((d.target, t), 1.0) * (1 - d.magnitude)
            elif d.risk == "tariff_shock":
                added[(d.target, t)] = added.get((d.target, t), 0.0) + d.magnitude
    if not (site_keep or ban_keep or added):
        return chain
    acts = {
        k: replace(a, upper_t=_kept(a.upper_t, site_keep[(a.supplier, a.period)]))
        if (a.supplier, a.period) in site_keep
        else a
        for k, a in chain.acts.items()
    }
    ships = {}
    for k, f in chain.ships.items():
        share = site_keep.get((f.from_supplier, f.period), 1.0)
        exported = f.to == BUYER or f.to not in china
        if f.from_supplier in china and exported:
            share *= ban_keep.get((f.material, f.period), 1.0)
        rate = f.tariff_rate
        if f.dutiable:
            rate = min(1.0, rate + added.get((f.country, f.period), 0.0))
        if share < 1.0 or rate != f.tariff_rate:
            f = replace(f, upper_t=_kept(f.upper_t, share), tariff_rate=rate)
        ships[k] = f
    process_cap = {k: v * site_keep.get((k[0], k[2]), 1.0) for k, v in chain.process_cap.items()}
    offer_cap = {k: v * site_keep.get((k[0], k[2]), 1.0) for k, v in chain.offer_cap.items()}
    return replace(chain, acts=acts, ships=ships, process_cap=process_cap, offer_cap=offer_cap)
