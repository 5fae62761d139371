"""The typed records of a checked workbook: one frozen dataclass per sheet row, and Inputs.

Every record keeps `refs` (column -> `Sheet!Cell`) so any later check can cite
the cell a value came from. Scenarios and what-ifs make modified copies; a
record is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


def _refs() -> Mapping[str, str]:
    return field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Material:
    """A material being sourced (quantities in tonnes)."""

    material: str
    unit: str = "t"
    hts: str | None = None
    reference_price_usd_per_kg: float = 0.0
    stage: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Demand:
    """Demand for a material in a period, t; `compliant`: a segment only compliant supply serves."""

    material: str
    period: str
    demand_t: float
    compliant: bool = False
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Country:
    """An origin country, its flat US tariff (fraction; None with Tariffs rows) and flags."""

    country: str
    tariff_rate: float | None = None
    allied: bool = False
    china: bool | None = None  # None until resolved: TRUE only for the row named China
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Supplier:
    """A facility; capacity_t per period is shared by all its offers (None = no limit)."""

    supplier: str
    country: str
    capacity_t: float | None = None
    high_standard: bool = False
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Offer:
    """A supplier's offer of a material; period None = every period without its own row."""

    supplier: str
    material: str
    price_usd_per_kg: float
    max_t: float | None = None
    freight_usd_per_kg: float = 0.0
    period: str | None = None
    compliant: bool = False
    emissions_kg_co2e_per_kg: float | None = None  # cradle-to-gate; None = unknown
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Process:
    """A facility's process: makes `output` from its Inputs; period None = every period."""

    supplier: str
    process: str
    output: str
    capacity_t: float | None = None
    cost_usd_per_kg: float = 0.0
    customs_value_usd_per_kg: float | None = None
    period: str | None = None
    stage: str | None = None
    emissions_kg_co2e_per_kg: float | None = None  # gate-to-gate; None = unknown
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class ProcessInput:
    """Tonnes of `material` a process consumes per tonne of its output (an Inputs row)."""

    supplier: str
    process: str
    material: str
    t_per_t: float
    period: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Coproduct:
    """Tonnes of `material` a process makes besides its output, per tonne of output."""

    supplier: str
    process: str
    material: str
    t_per_t: float
    period: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Route:
    """Who may ship a material to whom (`to` a supplier or `buyer`), freight and a limit."""

    from_supplier: str
    to: str
    material: str
    freight_usd_per_kg: float = 0.0
    max_t: float | None = None
    period: str | None = None
    refs: Mapping[str, str] = _refs()

    @property
    def to_key(self) -> str:
        """`to`, with any spelling of buyer read as `buyer`."""
        return "buyer" if self.to.strip().lower() == "buyer" else self.to


@dataclass(frozen=True)
class TariffOverride:
    """A per-material tariff rate replacing the country rate."""

    country: str
    material: str
    tariff_rate: float
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Tariff:
    """One tariff measure: a rate by legal basis for an origin and material, in a date window.

    Blank country, material and hts mean every origin, every material, any HTS code;
    a blank regime means every regime.
    """

    basis: str = ""  # blank only while a bad cell is being reported
    rate: float = 0.0
    regime: str | None = None
    country: str | None = None
    material: str | None = None
    hts: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    description: str = ""
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Period:
    """Calendar dates of a period (first and last day, inclusive)."""

    period: str
    start: date
    end: date
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class PriceFloor:
    """Minimum price paid, USD/kg, for `high_standard` suppliers or `all`."""

    material: str
    floor_usd_per_kg: float
    applies_to: str = "high_standard"
    paid_by: str = "buyer"
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Offtake:
    """An offtake on a supplier's offer: per-period min/max t, take-or-pay, contract price."""

    supplier: str
    material: str
    min_t: float = 0.0
    max_t: float | None = None
    take_or_pay: float | None = None
    contract_price_usd_per_kg: float | None = None
    decide: bool = False
    reserve_usd_per_kg: float = 0.0
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Stockpile:
    """A stocked material: initial t, reserve t at every period end, holding USD/kg per period."""

    material: str
    initial_t: float = 0.0
    reserve_t: float = 0.0
    holding_usd_per_kg: float = 0.0
    max_t: float | None = None
    compliant: bool = False
    decide: bool = False
    build_min_t: float = 0.0
    build_max_t: float | None = None
    build_price_usd_per_kg: float | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class EmissionsCap:
    """Most t CO2e of making `material` (None: all) in `period` (None: the whole horizon)."""

    max_t_co2e: float = 0.0
    material: str | None = None
    period: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Indicator:
    """A social-risk indicator of a country or of one site (supplier), with its source."""

    indicator: str = ""
    value: float = 0.0
    country: str | None = None
    supplier: str | None = None
    source: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Settings:
    """Policy switches (defaults in schema.SETTINGS)."""

    exclude_china: bool = False
    max_china_share: float = 1.0
    max_country_share: float = 1.0
    min_allied_share: float = 0.0
    unmet_penalty_usd_per_kg: float = 100_000.0
    allow_unmet: bool = True
    tariff_regime: str = ""
    data_date: date | None = None
    importer_country: str = "United States"
    national_cost: bool = False
    excluded_stage_countries: str = "China"
    carbon_price_usd_per_t_co2e: float = 0.0
    unknown_emissions: str = "highest"
    high_standard_rule: str = "flag"
    high_standard_max_forced_labour_per_1000: float = 5.0
    high_standard_requires_audit: bool = False
    risk_weight: float = 0.0
    cvar_level: float = 0.95
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Inputs:
    """Every input of one run, typed and checked; scenarios make modified copies."""

    materials: tuple[Material, ...]
    demand: tuple[Demand, ...]
    countries: tuple[Country, ...]
    suppliers: tuple[Supplier, ...]
    offers: tuple[Offer, ...]
    tariff_overrides: tuple[TariffOverride, ...] = ()
    tariffs: tuple[Tariff, ...] = ()
    period_dates: tuple[Period, ...] = ()
    price_floors: tuple[PriceFloor, ...] = ()
    offtakes: tuple[Offtake, ...] = ()
    stockpile: tuple[Stockpile, ...] = ()
    settings: Settings = field(default_factory=Settings)
    source: str = ""
    processes: tuple[Process, ...] = ()
    process_inputs: tuple[ProcessInput, ...] = ()
    coproducts: tuple[Coproduct, ...] = ()
    routes: tuple[Route, ...] = ()
    emission_caps: tuple[EmissionsCap, ...] = ()
    indicators: tuple[Indicator, ...] = ()

    @property
    def has_chain(self) -> bool:
        """A v2 workbook: some Processes or Routes row (else every offer goes to the buyer)."""
        return bool(self.processes or self.routes)

    @property
    def tracks_compliance(self) -> bool:
        """Some Demand row is a compliant segment: the model carries a compliant grade."""
        return any(d.compliant for d in self.demand)

    @property
    def periods(self) -> tuple[str, ...]:
        """Period labels in order of first appearance in Demand."""
        return tuple(dict.fromkeys(d.period for d in self.demand))
