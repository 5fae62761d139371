"""Cross-sheet checks: each `check_*` looks at one kind of mistake and returns every instance.

Errors stop a run; warnings are reported beside the answer. Each problem
names its sheet, row and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from optimizer.common.limits import MAX_COEFFICIENT_RATIO, TINY_T
from optimizer.common.problems import Problem
from optimizer.contract.cells import did_you_mean
from optimizer.contract.chain_checks import check_chain
from optimizer.contract.records import Inputs, Offer, Offtake, Settings
from optimizer.contract.tariff_checks import check_tariffs

# --------------------------------------------------------------------------- checks


def check_duplicates(sheet: str, records: Iterable[Any], key: tuple[str, ...]) -> list[Problem]:
    """Two rows with the same key (e.g. two Offers rows for one supplier, material, period)."""
    seen: dict[tuple[Any, ...], str] = {}
    problems = []
    for r in records:
        k = tuple(getattr(r, c) for c in key)
        ref = r.refs.get(key[0], sheet)
        if "" in k:  # a blank key cell is reported as required already
            continue
        if k in seen:
            shown = ", ".join(
                "blank" if v is None else (c if v else "") if isinstance(v, bool) else str(v)
                for c, v in zip(key, k, strict=True)
                if v is not False
            )
            problems.append(Problem.at(ref, f"duplicate row for ({shown}); first at {seen[k]}"))
        else:
            seen[k] = ref
    return problems


def check_reference(
    records: Iterable[Any], column: str, known: Iterable[str], what: str, where: str
) -> list[Problem]:
    """Every value in `column` names a row of another sheet."""
    known = list(known)
    names = set(known)
    problems = []
    for r in records:
        value = getattr(r, column)
        if value and value not in names:  # a blank was already reported as required
            hint = did_you_mean(value, known)
            problems.append(Problem.at(r.refs[column], f'{what} "{value}" is not in {where}{hint}'))
    return problems


def check_offtakes_have_offers(
    offtakes: Iterable[Offtake], offers: Iterable[Offer]
) -> list[Problem]:
    """An offtake must sit on an offer of the same supplier and material; min <= max."""
    lanes = {(o.supplier, o.material) for o in offers}
    problems = []
    for k in offtakes:
        if k.supplier and k.material and (k.supplier, k.material) not in lanes:
            problems.append(
                Problem.at(
                    k.refs["supplier"],
                    f'supplier "{k.supplier}" has no offer for "{k.material}"',
                )
            )
        if k.max_t is not None and k.min_t > k.max_t:
            problems.append(
                Problem.at(k.refs["min_t"], f"min_t {k.min_t:g} exceeds max_t {k.max_t:g}")
            )
    return problems


def check_offer_periods(offers: Iterable[Offer], periods: tuple[str, ...]) -> list[Problem]:
    """An offer's period must be one of the Demand periods."""
    return [
        Problem.at(
            o.refs["period"],
            f'period "{o.period}" is not a Demand period ({", ".join(periods)})',
        )
        for o in offers
        if o.period is not None and o.period not in periods
    ]


def check_not_empty(inputs: Inputs) -> list[Problem]:
    """A model needs demand rows, countries, suppliers, and offers or processes."""
    problems = []
    for sheet, rows in (
        ("Materials", inputs.materials),
        ("Demand", inputs.demand),
        ("Countries", inputs.countries),
        ("Suppliers", inputs.suppliers),
        ("Offers", inputs.offers or inputs.processes),
    ):
        if not rows:
            what = " and no Processes rows" if sheet == "Offers" else ""
            problems.append(Problem(sheet, "A2", f"no data rows{what} (the model would be empty)"))
    return problems


def check_zero_demand(inputs: Inputs) -> list[Problem]:
    """Warn when every demand is 0 and no reserve is to be built: the plan would buy nothing."""
    if not inputs.demand or any(d.demand_t > 0 for d in inputs.demand):
        return []
    if any(s.reserve_t > s.initial_t for s in inputs.stockpile):
        return []
    return [
        Problem.at(
            inputs.demand[0].refs["demand_t"],
            "every demand_t is 0 (and no stock reserve to build): the plan will buy nothing",
            "warning",
        )
    ]


#: Columns whose values are quantities (t) and costs (USD/kg), for the numerics check.
QUANTITY_COLUMNS = {
    "demand": ("demand_t",),
    "suppliers": ("capacity_t",),
    "offers": ("max_t",),
    "offtakes": ("min_t", "max_t"),
    "stockpile": ("initial_t", "reserve_t", "max_t"),
    "processes": ("capacity_t",),
    "routes": ("max_t",),
}
COST_COLUMNS = {
    "offers": ("price_usd_per_kg", "freight_usd_per_kg"),
    "price_floors": ("floor_usd_per_kg",),
    "offtakes": ("contract_price_usd_per_kg",),
    "stockpile": ("holding_usd_per_kg",),
    "processes": ("cost_usd_per_kg", "customs_value_usd_per_kg"),
    "routes": ("freight_usd_per_kg",),
}


def _values(inputs: Inputs, columns: Mapping[str, tuple[str, ...]]) -> list[tuple[float, str, str]]:
    """(value, column, cell) for every nonzero value of the given columns."""
    out = []
    for attr, names in columns.items():
        for record in getattr(inputs, attr):
            for name in names:
                value = getattr(record, name)
                if value:
                    out.append((float(value), name, record.refs.get(name, "")))
    return out


def check_numerics(inputs: Inputs) -> list[Problem]:
    """Warn about values that hurt HiGHS's numerics: specks below TINY_T, huge value ranges.

    HiGHS works to tolerances around 1e-7 and loses precision when the model's
    nonzero coefficients span more than about nine orders of magnitude; either
    usually means a unit mistake (kg typed as t, USD/t typed as USD/kg).
    """
    problems = [
        Problem.at(
            ref,
            f"{name} {value:g} t is below {TINY_T:g} t (a gram): the solver treats it as 0; "
            "enter 0 or check the unit",
            "warning",
        )
        for value, name, ref in _values(inputs, QUANTITY_COLUMNS)
        if 0 < value < TINY_T
    ]
    settings = inputs.settings
    costs = _values(inputs, COST_COLUMNS)
    if settings.allow_unmet and settings.unmet_penalty_usd_per_kg:
        ref = settings.refs.get("unmet_penalty_usd_per_kg", "")
        costs.append((settings.unmet_penalty_usd_per_kg, "unmet_penalty_usd_per_kg", ref))
    for kind, found, unit in (
        ("quantities", _values(inputs, QUANTITY_COLUMNS), "t"),
        ("costs", costs, "USD/kg"),
    ):
        if len(found) < 2:
            continue
        low, high = min(found), max(found)
        if high[0] <= MAX_COEFFICIENT_RATIO * low[0]:
            continue
        message = (
            f"{kind} span {high[0] / low[0]:.1e} times: {low[1]} {low[0]:g} {unit} at "
            f"{low[2] or 'its default'}, {high[1]} {high[0]:g} {unit} at "
            f"{high[2] or 'its default'}; beyond {MAX_COEFFICIENT_RATIO:.0e} the solver may "
            "lose precision: check the units"
        )
        ref = low[2] or high[2]
        problems.append(
            Problem.at(ref, message, "warning")
            if ref
            else Problem("Settings", "", message, "warning")
        )
    return problems


def check_policy_consistency(settings: Settings) -> list[Problem]:
    """Warn when shares cannot all hold, e.g. allied minimum above what country caps permit."""
    problems = []
    if settings.exclude_china and settings.max_china_share < 1:
        problems.append(
            Problem.at(
                settings.refs.get("max_china_share", "Settings!B1"),
                "max_china_share has no effect while exclude_china is TRUE",
                "warning",
            )
        )
    return problems


def check_demand_has_offers(inputs: Inputs) -> list[Problem]:
    """Warn about materials with demand that nothing offers or makes (all of it will be unmet)."""
    offered = {o.material for o in inputs.offers}
    offered |= {p.output for p in inputs.processes} | {c.material for c in inputs.coproducts}
    flagged: dict[str, str] = {}
    for d in inputs.demand:
        if d.demand_t > 0 and d.material not in offered and d.material not in flagged:
            flagged[d.material] = d.refs["material"]
    return [
        Problem.at(
            ref,
            f'"{m}" has demand but no offer or process makes it: all of it will be unmet',
            "warning",
        )
        for m, ref in flagged.items()
    ]


def check_inputs(inputs: Inputs) -> list[Problem]:
    """Every cross-sheet check, in the order a planner would fix them."""
    material_names = [m.material for m in inputs.materials]
    country_names = [c.country for c in inputs.countries]
    supplier_names = [s.supplier for s in inputs.suppliers]
    periods = inputs.periods
    return [
        *check_not_empty(inputs),
        *check_duplicates("Materials", inputs.materials, ("material",)),
        *check_duplicates("Demand", inputs.demand, ("material", "period", "compliant")),
        *check_duplicates("Countries", inputs.countries, ("country",)),
        *check_duplicates("Suppliers", inputs.suppliers, ("supplier",)),
        *check_duplicates("Offers", inputs.offers, ("supplier", "material", "period")),
        *check_duplicates("TariffOverrides", inputs.tariff_overrides, ("country", "material")),
        *check_duplicates("PriceFloors", inputs.price_floors, ("material",)),
        *check_duplicates("Offtakes", inputs.offtakes, ("supplier", "material")),
        *check_duplicates("Stockpile", inputs.stockpile, ("material",)),
        *check_duplicates("Processes", inputs.processes, ("supplier", "process", "period")),
        *check_duplicates(
            "Inputs", inputs.process_inputs, ("supplier", "process", "material", "period")
        ),
        *check_duplicates(
            "Coproducts", inputs.coproducts, ("supplier", "process", "material", "period")
        ),
        *check_duplicates(
            "Routes", inputs.routes, ("from_supplier", "to_key", "material", "period")
        ),
        *check_reference(inputs.demand, "material", material_names, "material", "Materials"),
        *check_reference(inputs.suppliers, "country", country_names, "country", "Countries"),
        *check_reference(inputs.offers, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.offers, "material", material_names, "material", "Materials"),
        *check_offer_periods(inputs.offers, periods),
        *check_reference(inputs.tariff_overrides, "country", country_names, "country", "Countries"),
        *check_reference(
            inputs.tariff_overrides, "material", material_names, "material", "Materials"
        ),
        *check_tariffs(inputs),
        *check_reference(inputs.price_floors, "material", material_names, "material", "Materials"),
        *check_reference(inputs.offtakes, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.offtakes, "material", material_names, "material", "Materials"),
        *check_offtakes_have_offers(inputs.offtakes, inputs.offers),
        *check_reference(inputs.stockpile, "material", material_names, "material", "Materials"),
        *check_reference(inputs.processes, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.processes, "output", material_names, "material", "Materials"),
        *check_reference(
            inputs.process_inputs, "supplier", supplier_names, "supplier", "Suppliers"
        ),
        *check_reference(
            inputs.process_inputs, "material", material_names, "material", "Materials"
        ),
        *check_reference(inputs.coproducts, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.coproducts, "material", material_names, "material", "Materials"),
        *check_reference(inputs.routes, "from_supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.routes, "material", material_names, "material", "Materials"),
        *check_chain(inputs),
        *check_policy_consistency(inputs.settings),
        *check_demand_has_offers(inputs),
        *check_zero_demand(inputs),
        *check_numerics(inputs),
    ]
