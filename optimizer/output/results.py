"""Tidy result tables from a solution: allocation, unmet, costs, shares, China exposure.

Every table has a `scenario` column so comparisons are a concat. Money is USD,
prices USD/kg, quantities t, rates and shares fractions.

Cost accounting (docs/model.md): buyer spend = purchase + tariff + freight +
take-or-pay + holding, what the buyer pays; fiscal cost = the government's
price support on what is bought (government-paid floors); the unmet-demand
penalty is a modelling price that only the objective carries. The objective
(`total_cost_usd`) = buyer spend + penalty (+ fiscal cost in the national-cost
view); no other figure adds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import ModelData
from optimizer.model.emissions import plan_sources
from optimizer.model.solution import EPS_T, Solution, Status
from optimizer.model.tariffs import describe_parts
from optimizer.output.chain_tables import (
    activity_table,
    chain_costs,
    compliance_table,
    discarded_table,
    flows_table,
    offer_shipments,
    receipts_table,
)
from optimizer.output.emissions import delivered_emissions_table, emissions_table
from optimizer.output.origin import origin_by_stage_table
from optimizer.output.shadow_prices import highlights, shadow_price_table

#: What the buyer pays, by component (processing: the chain's process fees, contract v2).
SPEND_KEYS = ("purchase", "tariff", "freight", "processing", "take_or_pay", "holding")
#: Every component of the objective: spend, the penalty (a modelling price), and the fiscal
#: cost counted in the national-cost view (0 otherwise). They add up to total_cost_usd.
COST_KEYS = (
    "purchase",
    "tariff",
    "freight",
    "processing",
    "take_or_pay",
    "unmet_penalty",
    "holding",
    "fiscal_in_objective",
    "carbon_price",
)


@dataclass
class Results:
    """Everything a report needs about one solved scenario."""

    scenario: str
    status: Status
    message: str
    total_cost_usd: float | None
    cost_breakdown_usd: dict[str, float]
    allocation: pd.DataFrame
    unmet: pd.DataFrame
    shares: pd.DataFrame
    shadow_prices: pd.DataFrame
    stock: pd.DataFrame
    seconds: float = 0.0
    highlights: list[str] = field(default_factory=list)
    #: best bound on the optimum (USD): equals the cost when optimal, below it after a time limit
    best_bound_usd: float | None = None
    #: per material and period: tonnes and value bought, China's share of each
    china_exposure: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per (country, material, period) offered: the tariff applied and its make-up by basis
    tariff_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the tariff regime applied and the date the data describes
    tariff_regime: str = ""
    data_date: str = ""
    #: the objective counts fiscal cost (Settings national_cost)
    national_cost: bool = False
    #: the scenario's description from the Scenarios sheet ("" for the baseline)
    description: str = ""
    #: what-if analyses (optimizer.analysis), empty unless the scenario was analysed
    policy_costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per (country, material) lane, the rates a workbook can set (analysis.breakevens)
    tariff_breakevens: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per purchase and period: a detail, since a workbook cannot set a rate per period
    breakevens_by_period: pd.DataFrame = field(default_factory=pd.DataFrame)
    country_breakevens: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the supply chain (contract v2; flows also lists offers delivered in a v1 workbook)
    flows: pd.DataFrame = field(default_factory=pd.DataFrame)
    activity: pd.DataFrame = field(default_factory=pd.DataFrame)
    discarded: pd.DataFrame = field(default_factory=pd.DataFrame)
    origin_by_stage: pd.DataFrame = field(default_factory=pd.DataFrame)
    compliance: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: what the buyer receives per shipping supplier (shares and China exposure weigh these)
    receipts: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per process and period not run: the fee at which it starts to be used (analysis)
    process_breakevens: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the workbook has a supply chain (contract v2), and the countries no compliant stage is in
    has_chain: bool = False
    excluded_stage_countries: tuple[str, ...] = ()
    #: per source with tonnes: intensity and emissions (optimizer.output.emissions); per
    #: material and period received: the emissions its tonnes embody through the tiers
    emissions: pd.DataFrame = field(default_factory=pd.DataFrame)
    delivered_emissions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the internal carbon price the objective charged (a modelling price), USD per t CO2e
    carbon_price_usd_per_t_co2e: float = 0.0

    @property
    def solved(self) -> bool:
        """A plan exists (the figures below are None otherwise)."""
        return self.total_cost_usd is not None

    @property
    def buyer_spend_usd(self) -> float | None:
        """What the buyer pays: purchase + tariff + freight + take-or-pay + holding (USD)."""
        if not self.solved:
            return None
        return sum(self.cost_breakdown_usd[k] for k in SPEND_KEYS)

    @property
    def fiscal_cost_usd(self) -> float | None:
        """What the government pays in price support on the plan's purchases (USD)."""
        if not self.solved:
            return None
        return float(self.allocation["fiscal_usd"].sum()) if len(self.allocation) else 0.0

    @property
    def penalty_usd(self) -> float | None:
        """The unmet-demand penalty in the objective: a modelling price, not money paid."""
        return self.cost_breakdown_usd["unmet_penalty"] if self.solved else None

    @property
    def emissions_t_co2e(self) -> float:
        """The plan's emissions from sources with a stated intensity (t CO2e); sources without
        one are in `emissions_unknown_t`, never here."""
        e = self.emissions
        return float(e.loc[e["stated"].astype(bool), "emissions_t_co2e"].sum()) if len(e) else 0.0

    @property
    def emissions_unknown_t(self) -> float:
        """Tonnes bought or made by sources with no stated intensity."""
        e = self.emissions
        return float(e.loc[~e["stated"].astype(bool), "quantity_t"].sum()) if len(e) else 0.0

    @property
    def unmet_t(self) -> float:
        """Total unmet demand, t (see `unmet_by_material` for which material)."""
        return float(self.unmet["quantity_t"].sum()) if len(self.unmet) else 0.0

    @property
    def unmet_by_material(self) -> dict[str, float]:
        """Unmet demand per material over all periods, t (materials with none left out)."""
        if not len(self.unmet):
            return {}
        per = self.unmet.groupby("material", sort=False)["quantity_t"].sum()
        return {str(m): float(q) for m, q in per.items()}

    @property
    def compliant_shortfall_t(self) -> float:
        """Compliant demand left unmet (Demand `compliant` TRUE), t; part of unmet_t."""
        c = self.compliance
        return float(c["shortfall_t"].sum()) if len(c) else 0.0

    @property
    def received_t(self) -> float:
        """Total the buyer receives, t (v1: what is bought; with a chain also what facilities
        ship to it)."""
        r = self.receipts
        return float(r["quantity_t"].sum()) if len(r) else 0.0

    def china_by_stage(self) -> dict[str, float]:
        """China's share of the tonnes received at each stage of their chain (Origin by stage),
        all materials: what `china_value_share` (last transformation only) does not show."""
        ob = self.origin_by_stage
        if not len(ob):
            return {}
        received = self.received_t
        china = ob[ob["country"] == "China"].groupby("stage", sort=False)["quantity_t"].sum()
        return {str(k): float(v) / received for k, v in china.items() if received > 0}

    @property
    def bought_t(self) -> float:
        """Total bought, t."""
        return float(self.allocation["quantity_t"].sum()) if len(self.allocation) else 0.0

    @property
    def china_value_share(self) -> float:
        """China-origin share of the value bought (price paid x tonnes), all materials."""
        ce = self.china_exposure
        if not len(ce) or ce["value_usd"].sum() <= 0:
            return 0.0
        return float(ce["china_value_usd"].sum() / ce["value_usd"].sum())

    @property
    def china_tonnes_share(self) -> float:
        """China-origin share of the tonnes bought, all materials."""
        ce = self.china_exposure
        if not len(ce) or ce["bought_t"].sum() <= 0:
            return 0.0
        return float(ce["china_t"].sum() / ce["bought_t"].sum())

    @property
    def max_china_tonnes_share(self) -> float:
        """The largest China share by tonnes of any material and period: what a
        max_china_share cap limits (the frontier's x-axis)."""
        ce = self.china_exposure
        return float(ce["tonnes_share"].max()) if len(ce) else 0.0

    def china_share_of(self, material: str) -> tuple[float, float]:
        """(tonnes share, value share) of China origin for a material over all periods."""
        ce = self.china_exposure
        ce = ce[ce["material"] == material] if len(ce) else ce
        if not len(ce) or ce["bought_t"].sum() <= 0:
            return 0.0, 0.0
        tonnes = float(ce["china_t"].sum() / ce["bought_t"].sum())
        value = float(ce["china_value_usd"].sum() / ce["value_usd"].sum())
        return tonnes, value


ALLOCATION_COLUMNS = [
    "scenario",
    "supplier",
    "country",
    "material",
    "period",
    "quantity_t",
    "to_buyer_t",
    "to_facilities_t",
    "offer_price_usd_per_kg",
    "price_paid_usd_per_kg",
    "tariff_rate",
    "freight_usd_per_kg",
    "landed_usd_per_kg",
    "purchase_usd",
    "tariff_usd",
    "freight_usd",
    "cost_usd",
    "floor_applied",
    "support_usd_per_kg",
    "fiscal_usd",
    "tariff_basis",
    "china",
    "allied",
]


def allocation_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """One row per purchase actually made; cost_usd is the buyer's landed cost, fiscal_usd
    the government's price support on it (government-paid floors).

    With a supply chain, a purchase is what goes to the buyer (x) plus what is
    shipped to facilities; its tariff and freight are those of each destination.
    """
    rows = []
    shipped = offer_shipments(data, sol)
    keys = set(shipped) | {b for b, q in sol.x.items() if q > EPS_T}
    for b in sorted(keys, key=data.order):
        to_buyer = max(0.0, sol.x.get(b, 0.0))
        ships = shipped.get(b, [])
        to_facilities = sum(q for q, _ in ships)
        q = to_buyer + to_facilities
        if q <= EPS_T:
            continue
        d = data.buys[b]
        kg = q * KG_PER_T
        kg_buyer = to_buyer * KG_PER_T
        tariff = kg_buyer * d.price_paid * d.tariff_rate + sum(
            t * KG_PER_T * f.tariff_rate * f.customs_value_usd_per_kg for t, f in ships
        )
        freight = kg_buyer * d.freight + sum(t * KG_PER_T * f.freight_usd_per_kg for t, f in ships)
        rows.append(
            {
                "scenario": scenario,
                "supplier": d.supplier,
                "country": d.country,
                "material": d.material,
                "period": d.period,
                "quantity_t": q,
                "to_buyer_t": to_buyer,
                "to_facilities_t": to_facilities,
                "offer_price_usd_per_kg": d.offer_price,
                "price_paid_usd_per_kg": d.price_paid,
                "tariff_rate": d.tariff_rate,
                "freight_usd_per_kg": d.freight,
                "landed_usd_per_kg": d.landed,
                "purchase_usd": kg * d.price_paid,
                "tariff_usd": tariff if ships else kg * d.price_paid * d.tariff_rate,
                "freight_usd": freight if ships else kg * d.freight,
                "cost_usd": kg * d.price_paid + tariff + freight if ships else kg * d.landed,
                "floor_applied": d.floor_applied,
                "support_usd_per_kg": d.support_usd_per_kg,
                "fiscal_usd": kg * d.support_usd_per_kg,
                "tariff_basis": describe_parts(d.tariff_parts),
                "china": d.china,
                "allied": d.allied,
            }
        )
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)


CHINA_COLUMNS = [
    "scenario",
    "material",
    "period",
    "bought_t",
    "china_t",
    "tonnes_share",
    "value_usd",
    "china_value_usd",
    "value_share",
]


def china_exposure_table(scenario: str, data: ModelData, receipts: pd.DataFrame) -> pd.DataFrame:
    """Per material and period received: China-origin tonnes and value (customs value x tonnes:
    the price paid for offers), and their shares of what was received. With a supply chain,
    origin here is the shipping facility's country (last transformation); Origin by stage has
    every stage."""
    if receipts.empty:
        return pd.DataFrame(columns=CHINA_COLUMNS)
    a = receipts.assign(
        china_t=receipts["quantity_t"].where(receipts["china"], 0.0),
        china_value_usd=receipts["value_usd"].where(receipts["china"], 0.0),
    )
    g = a.groupby(["material", "period"], sort=False, as_index=False).agg(
        bought_t=("quantity_t", "sum"),
        china_t=("china_t", "sum"),
        value_usd=("value_usd", "sum"),
        china_value_usd=("china_value_usd", "sum"),
    )
    g["tonnes_share"] = g["china_t"] / g["bought_t"]
    g["value_share"] = (g["china_value_usd"] / g["value_usd"]).where(g["value_usd"] > 0, 0.0)
    g.insert(0, "scenario", scenario)
    return g[CHINA_COLUMNS]


def tariff_rate_table(scenario: str, data: ModelData) -> pd.DataFrame:
    """Per (country, material, period) offered: the rate applied and its make-up by basis."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for d in data.buys.values():
        key = (d.country, d.material, d.period)
        if key not in seen:
            seen[key] = {
                "scenario": scenario,
                "country": d.country,
                "material": d.material,
                "period": d.period,
                "tariff_rate": d.tariff_rate,
                "make_up": describe_parts(d.tariff_parts),
                "regime": data.tariff_regime or "flat rates (Countries, TariffOverrides)",
            }
    cols = ["scenario", "country", "material", "period", "tariff_rate", "make_up", "regime"]
    order = {m: i for i, m in enumerate(data.materials)}
    rows = sorted(seen.values(), key=lambda r: (order[r["material"]], r["country"], r["period"]))
    return pd.DataFrame(rows, columns=cols)


def unmet_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Unmet demand per material and period (only where positive)."""
    rows = [
        {
            "scenario": scenario,
            "material": mat,
            "period": t,
            "demand_t": data.demand[(mat, t)],
            "quantity_t": q,
            "share_of_demand": q / data.demand[(mat, t)] if data.demand[(mat, t)] else 0.0,
        }
        for (mat, t), q in sol.unmet.items()
        if q > EPS_T
    ]
    return pd.DataFrame(
        rows,
        columns=["scenario", "material", "period", "demand_t", "quantity_t", "share_of_demand"],
    )


def stock_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """End-of-period stock per stocked material."""
    rows = [
        {
            "scenario": scenario,
            "material": mat,
            "period": t,
            "stock_t": q,
            "reserve_t": data.stock[mat].reserve_t,
            "holding_usd": q * KG_PER_T * data.stock[mat].holding_usd_per_kg,
        }
        for (mat, t), q in sol.stock.items()
    ]
    return pd.DataFrame(
        rows, columns=["scenario", "material", "period", "stock_t", "reserve_t", "holding_usd"]
    )


def cost_breakdown(data: ModelData, sol: Solution, alloc: pd.DataFrame) -> dict[str, float]:
    """USD by component (COST_KEYS); the components add up to the objective."""
    top = sum(
        q * KG_PER_T * data.take_or_pay[b][1] * data.buys[b].price_paid
        for b, q in sol.untaken.items()
    )
    unmet = sum(sol.unmet.values()) * KG_PER_T * data.settings.unmet_penalty_usd_per_kg
    holding = sum(
        q * KG_PER_T * data.stock[mat].holding_usd_per_kg for (mat, _), q in sol.stock.items()
    )
    # objective_extra = support counted in the national view + the purchase's carbon charge
    extra = sum(q * KG_PER_T * data.buys[b].objective_extra for b, q in sol.x.items() if q > 0)
    for ships in offer_shipments(data, sol).values():
        extra += sum(q * KG_PER_T * f.objective_extra for q, f in ships)
    # the carbon charge: the price times the emissions as the levers count them (t CO2e)
    price = data.settings.carbon_price_usd_per_t_co2e
    charged = {"offer": 0.0, "process": 0.0}
    for kind, _, _, _, q, _, rate in plan_sources(data, sol):
        charged[kind] += price * q * rate
    carbon = charged["offer"] + charged["process"]
    counted = extra - charged["offer"]  # what is left of objective_extra is counted support
    chain = chain_costs(data, sol)
    return {
        "purchase": float(alloc["purchase_usd"].sum()),
        "tariff": float(alloc["tariff_usd"].sum()) + chain["tariff"],
        "freight": float(alloc["freight_usd"].sum()) + chain["freight"],
        "processing": chain["processing"],
        "take_or_pay": float(top),
        "unmet_penalty": float(unmet),
        "holding": float(holding),
        "fiscal_in_objective": float(counted),
        "carbon_price": float(carbon),
    }


def shares_table(scenario: str, data: ModelData, alloc: pd.DataFrame) -> pd.DataFrame:
    """Tonnes and share by origin country for each material and period received (`alloc`: the
    receipts table, or a v1 allocation)."""
    cols = ["scenario", "material", "period", "country", "quantity_t", "share", "china", "allied"]
    if alloc.empty:
        return pd.DataFrame(columns=cols)
    g = alloc.groupby(["material", "period", "country"], sort=False, as_index=False).agg(
        quantity_t=("quantity_t", "sum"), china=("china", "first"), allied=("allied", "first")
    )
    total = g.groupby(["material", "period"], sort=False)["quantity_t"].transform("sum")
    g["share"] = g["quantity_t"] / total
    g.insert(0, "scenario", scenario)
    return g[cols]


def make_results(scenario: str, data: ModelData, sol: Solution) -> Results:
    """All result tables for one solution (empty tables when there is no plan)."""
    have_plan = sol.status is Status.OPTIMAL
    empty = Solution(sol.status)
    use = sol if have_plan else empty
    alloc = allocation_table(scenario, data, use)
    receipts = receipts_table(data, use, alloc)
    res = Results(
        scenario=scenario,
        status=sol.status,
        message=sol.message,
        total_cost_usd=sol.objective_usd if have_plan else None,
        cost_breakdown_usd=cost_breakdown(data, use, alloc),
        allocation=alloc,
        unmet=unmet_table(scenario, data, use),
        shares=shares_table(scenario, data, receipts),
        shadow_prices=shadow_price_table(scenario, data, use),
        stock=stock_table(scenario, data, use),
        seconds=sol.seconds,
        best_bound_usd=sol.best_bound_usd,
        china_exposure=china_exposure_table(scenario, data, receipts),
        tariff_rates=tariff_rate_table(scenario, data),
        tariff_regime=data.tariff_regime,
        data_date=data.data_date,
        national_cost=data.settings.national_cost,
        flows=flows_table(scenario, data, use),
        activity=activity_table(scenario, data, use),
        discarded=discarded_table(scenario, data, use),
        origin_by_stage=origin_by_stage_table(scenario, data, use),
        compliance=compliance_table(scenario, data, use),
        receipts=receipts,
        has_chain=data.chain is not None,
        excluded_stage_countries=tuple(sorted(data.chain.excluded)) if data.chain else (),
        emissions=emissions_table(scenario, data, use),
        delivered_emissions=delivered_emissions_table(scenario, data, use),
        carbon_price_usd_per_t_co2e=data.settings.carbon_price_usd_per_t_co2e,
    )
    res.highlights = (
        highlights(data, res.shadow_prices, res.unmet) if have_plan else list(sol.conflicts)
    )
    return res
