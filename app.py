"""Streamlit what-if app: a planner's session over a sourcing workbook.

Thin by design: every number comes from `optimizer.runs.session` (no model logic
here). Each Streamlit session keeps its own `Session` (and so its own model)
in `st.session_state`; nothing solver-related is cached across users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from optimizer.analysis.emissions_frontier import EmissionsFrontier, emissions_frontier
from optimizer.common.format import money, money_m, pct, tonnes
from optimizer.common.problems import InvalidInputError, SourcingError, errors
from optimizer.contract.book import DEFAULT_WORKBOOK, Workbook, find_scenario, open_workbook
from optimizer.contract.scenarios import BASELINE
from optimizer.output.colors import UNMET, country_colors
from optimizer.output.display import for_people, header, main_headers, number_formats
from optimizer.output.resilient_report import COST_NOTE
from optimizer.output.results import SPEND_KEYS, Results
from optimizer.output.sankey import chain_sankey
from optimizer.runs.changes import no_effect_reasons
from optimizer.runs.editing import EditedRows, sort_rows, upsert
from optimizer.runs.risk_view import (
    APP_EVAL_SAMPLES,
    APP_SAMPLES,
    NO_DECISION,
    RiskView,
    has_decisions,
    progress_fraction,
    run_risk,
)
from optimizer.runs.session import (
    EDITABLE,
    MAX_UPLOAD_BYTES,
    Outcome,
    Session,
    WhatIf,
    describe_whatif,
    frame,
    inputs_bytes,
    material_deltas,
    open_upload,
    report_bytes,
    whatif_slug,
)

st.set_page_config(page_title="Critical-minerals sourcing", layout="wide")
state = st.session_state
# KPI figures in a smaller type than Streamlit's 2.25rem: six fit in 3 columns at 1024 px
st.markdown(
    "<style>[data-testid='stMetricValue'] > div {font-size: 1.6rem;}</style>",
    unsafe_allow_html=True,
)


def show_table(
    df: pd.DataFrame, drop: tuple[str, ...] = ("scenario",), main: str = "", **kw: Any
) -> None:
    """A result table for people: plain-English headers with units, $, % and grouped t;
    a `main` table (display.MAIN_COLUMNS) shows its main columns first, the rest hidden
    behind the table's show/hide-columns icon, so it fits the page without scrolling."""
    people = for_people(df, drop)
    config = {
        h: st.column_config.NumberColumn(format=f)  # type: ignore[arg-type]
        for h, f in number_formats(df.drop(columns=[c for c in drop if c in df.columns])).items()
    }
    order = main_headers(df, main) if main else None
    st.dataframe(
        people,
        hide_index=True,
        column_config=config,
        column_order=order,
        placeholder="",  # a missing value shows blank, not "None"
        **kw,
    )
    if order is not None and len(order) < len(people.columns):
        st.caption(
            f"{len(order)} of {len(people.columns)} columns shown; the others under the "
            "table's show/hide-columns icon (top right), all of them in the report."
        )


def active_workbook() -> Workbook:
    """The workbook in use: the default one until an upload is accepted."""
    if "workbook" not in state:
        state.workbook = open_workbook(DEFAULT_WORKBOOK)
        state.workbook_name = DEFAULT_WORKBOOK.name
        state.workbook_id = 0
    wb: Workbook = state.workbook
    return wb


def handle_upload() -> None:
    """Accept a valid upload; otherwise explain and keep the previous workbook."""
    up = st.file_uploader(
        f"Upload a workbook (.xlsx, up to {MAX_UPLOAD_BYTES // 2**20} MB)",
        type=["xlsx", "xlsm"],
        key=f"upload{state.get('upload_key', 0)}",
    )
    if up is None or up.file_id == state.get("upload_id"):
        return
    state.upload_id = up.file_id
    wb, problems, message = open_upload(up.name, up.getvalue())
    if wb is None:
        state.upload_error = (message, [str(p) for p in problems])
        state.upload_key = state.get("upload_key", 0) + 1  # the box lets go of the file
        st.rerun()
    state.upload_error = None
    state.workbook, state.workbook_name = wb, up.name
    state.workbook_bytes = up.getvalue()  # the Risk tab's run reads the file itself
    state.workbook_id = state.get("workbook_id", 0) + 1
    state.sessions = {}


def get_session(scenario: str) -> Session:
    """This user's Session for the active workbook and scenario (built once, then updated)."""
    sessions: dict[tuple[int, str], Session] = state.setdefault("sessions", {})
    key = (state.workbook_id, scenario)
    if key not in sessions:
        sessions[key] = Session(state.workbook, scenario)
    return sessions[key]


def sidebar_controls(session: Session, prefix: str) -> WhatIf:
    """Toggles, slider, tariffs and floors; only values that differ from the workbook count."""
    base = session.base_inputs
    exclude = st.toggle("Exclude China", value=base.settings.exclude_china, key=f"{prefix}excl")
    share = st.slider(
        "Max China share (%)",
        0,
        100,
        round(base.settings.max_china_share * 100),
        step=5,
        key=f"{prefix}share",
        disabled=exclude,
    )
    tariffs: dict[str, float] = {}
    with st.expander("US tariff by origin (%)"):
        for c in base.countries:
            current = session.country_rates.get(c.country, 0.0)
            rate = st.number_input(
                c.country,
                0.0,
                100.0,
                float(round(current * 100, 4)),
                step=1.0,
                key=f"{prefix}tariff:{c.country}",
            )
            if not math.isclose(rate / 100, current, abs_tol=1e-9):
                tariffs[c.country] = round(rate / 100, 6)
    floors: dict[str, float] = {}
    current = {f.material: f.floor_usd_per_kg for f in base.price_floors}
    with st.expander("Price floors (USD/kg; 0 = none)"):
        for m in base.materials:
            value = st.number_input(
                m.material,
                0.0,
                1e6,
                float(current.get(m.material, 0.0)),
                step=5.0,
                key=f"{prefix}floor:{m.material}",
            )
            if not math.isclose(value, current.get(m.material, 0.0)):
                floors[m.material] = value
    price = base.settings.carbon_price_usd_per_t_co2e
    carbon = st.number_input(
        "Carbon price (USD/t CO2e; a modelling price, not in spend)",
        0.0,
        100_000.0,
        float(price),
        step=25.0,
        key=f"{prefix}carbon",
    )
    return WhatIf(
        carbon_price=carbon if not math.isclose(carbon, price) else None,
        exclude_china=exclude if exclude != base.settings.exclude_china else None,
        max_china_share=(
            share / 100 if not math.isclose(share / 100, base.settings.max_china_share) else None
        ),
        tariffs=tariffs,
        floors=floors,
    )


def edit_tab(session: Session, prefix: str) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The form (one offer, capacity or offtake, validated on submit) above the editors (bulk
    edits). Returns the sheets that differ from the scenario as loaded, and the rows held
    back as unfinished (a half-typed row never reaches the solver, nor blanks the plan)."""
    form_box = st.container()
    working: dict[str, list[dict[str, Any]]] = state.setdefault("working", {}).setdefault(
        prefix, {}
    )
    version = state.get(f"{prefix}edit-version", 0)
    edited: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, EditedRows] = {}
    unfinished: list[str] = []
    for sheet in EDITABLE:
        loaded = session.base_tables.get(sheet, [])
        start = working.get(sheet, loaded)
        # the first `finished` rows of `start` are settled; the rest (unfinished rows kept
        # at the end) and the editor's added rows are new: held back until filled
        finished = state.get(f"{prefix}finished:{sheet}", len(start))
        key = f"{prefix}edit:{sheet}:{version}"
        deleted = set(state.get(key, {}).get("deleted_rows", []))
        settled = sum(1 for i in range(finished) if i not in deleted)  # rows deleted above
        columns = list(dict.fromkeys(k for r in [*loaded, *start] for k in r))
        table = frame(start, columns)
        labels = {  # ticks need little room: the sheet fits 1440 px without scrolling
            c: st.column_config.Column(
                label=header(c)[0],
                width="small"
                if pd.api.types.is_bool_dtype(table[c]) or c == "period"
                else ("medium" if c == "supplier" else None),
            )
            for c in columns
        }
        st.markdown(f"**{sheet}**")
        out = st.data_editor(
            table,
            num_rows="dynamic",
            key=key,
            width="stretch",
            hide_index=True,
            column_config=labels,  # plain-English headers; the cells keep the contract's names
            placeholder="",  # an empty cell shows blank, not "None"
        )
        rows = sort_rows(sheet, out.to_dict("records"), loaded=settled)
        current[sheet] = rows
        unfinished += rows.unfinished
        if rows.rows != loaded:
            edited[sheet] = rows.rows
    state[f"{prefix}problems-box"] = st.container()  # below the editors: the table stays put
    with form_box:
        entry_form(session, prefix, current, edited)
    return edited, unfinished


#: What the form edits: its label, the sheet it writes.
FORM_SHEETS = {"Offer": "Offers", "Supplier capacity": "Suppliers", "Offtake": "Offtakes"}


def entry_form(
    session: Session,
    prefix: str,
    current: dict[str, EditedRows],
    edited: dict[str, list[dict[str, Any]]],
) -> None:
    """One offer, supplier capacity or offtake, with dropdowns of the workbook's suppliers,
    materials and periods; checked by the validator on submit and taken only when valid
    (it replaces the row with the same supplier, material and period, else is added)."""
    with st.expander("Add or change an offer, a capacity or an offtake (a form)"):
        kind = st.radio("What", list(FORM_SHEETS), horizontal=True, key=f"{prefix}form-kind")
        sheet = FORM_SHEETS[kind]
        suppliers = [str(r["supplier"]) for r in current["Suppliers"].rows if r.get("supplier")]
        materials = [m.material for m in session.base_inputs.materials]
        periods = list(session.base_inputs.periods)
        with st.form(f"{prefix}form:{sheet}", border=False):
            c1, c2, c3 = st.columns(3)
            supplier = c1.selectbox("Supplier", suppliers)
            entry: dict[str, Any] = {"supplier": supplier}
            if sheet == "Offers":
                entry["material"] = c2.selectbox("Material", materials)
                period = c3.selectbox("Period", ["every period", *periods])
                entry["period"] = None if period == "every period" else period
                c4, c5, c6 = st.columns(3)
                entry["price_usd_per_kg"] = c4.number_input("Price ($/kg)", 0.0, value=None)
                entry["max_t"] = c5.number_input(
                    "Max (t per period; blank: no limit)", 0.0, value=None
                )
                entry["freight_usd_per_kg"] = c6.number_input("Freight ($/kg)", 0.0, value=0.0)
                entry["compliant"] = st.checkbox("Compliant: no stage in an excluded country")
            elif sheet == "Suppliers":
                entry["capacity_t"] = c2.number_input(
                    "Capacity (t per period; blank: no limit)", 0.0, value=None
                )
            else:
                entry["material"] = c2.selectbox("Material", materials)
                entry["min_t"] = c3.number_input("Minimum (t per period)", 0.0, value=0.0)
                c4, c5, c6 = st.columns(3)
                entry["max_t"] = c4.number_input(
                    "Maximum (t per period; blank: the offer's)", 0.0, value=None
                )
                top = c5.number_input("Take-or-pay (%; blank: hard minimum)", 0.0, 100.0, None)
                entry["take_or_pay"] = None if top is None else top / 100
                entry["contract_price_usd_per_kg"] = c6.number_input(
                    "Contract price ($/kg; blank: the offer's)", 0.0, value=None
                )
            submitted = st.form_submit_button("Check and apply", type="primary")
        note_box = st.empty()
        note = state.pop(f"{prefix}form-note", None)
        if note:
            note_box.success(note)
    if not submitted:
        return
    if sheet == "Suppliers":  # a capacity edits the supplier's row: its country stays
        row = next((r for r in current["Suppliers"].rows if r.get("supplier") == supplier), {})
        entry = {**row, **entry}
    rows, what = upsert(current[sheet].rows, sheet, entry)
    before = {str(p) for p in session.problems_of(WhatIf(edited=edited)) if p.severity == "error"}
    after = session.problems_of(WhatIf(edited={**edited, sheet: rows}))
    new = [str(p) for p in after if p.severity == "error" and str(p) not in before]
    if new:  # shown at once, no rerun: the form keeps what was typed
        note_box.error("Not applied: " + "; ".join(new[:5]))
        return
    working = state["working"][prefix]
    for name, got in current.items():  # the editors' other edits stay, unfinished rows last
        done = rows if name == sheet else got.rows
        working[name] = done + got.held
        state[f"{prefix}finished:{name}"] = len(done)
    state[f"{prefix}edit-version"] = state.get(f"{prefix}edit-version", 0) + 1
    state[f"{prefix}form-note"] = f"Applied: {what}"
    st.rerun()  # the editors above show the new row


def kpis(res: Results, baseline: Results) -> None:
    """Buyer spend and its change vs baseline, fiscal cost, unmet tonnes by material, China
    share of value and of tonnes (the unmet-demand penalty, a modelling price, is never
    shown as money). Two rows of three: readable at 1024 px."""
    c1, c2, c3 = st.columns(3)
    c4, c5, c6 = st.columns(3)
    spend = res.buyer_spend_usd
    base = baseline.buyer_spend_usd
    c1.metric("Buyer spend", money_m(spend))
    if spend is not None and base:
        delta = spend - base
        c2.metric(
            "vs baseline",
            money_m(delta, signed=True),
            f"{delta / base:+.1%}" if abs(delta) >= 0.5 else None,  # no arrow for "same"
            delta_color="inverse",
        )
    else:
        c2.metric("vs baseline", "n/a")
    c3.metric("Fiscal cost", money_m(res.fiscal_cost_usd))
    short = res.unmet_by_material
    c4.metric(
        "Unmet demand",
        f"{res.unmet_t:,.1f} t",
        help="Demand no offer meets, in tonnes; by material below the figures",
    )
    c5.metric("China share (value)", pct(res.china_value_share), help="Weighted by value paid")
    c6.metric(
        "China share (tonnes)",
        pct(res.china_tonnes_share),
        help="Weighted by tonnes bought, all materials",
    )
    # always one element here, so the caption below keeps its place between reruns
    if short:
        st.warning("Unmet demand: " + ", ".join(f"{m} {q:,.1f} t" for m, q in short.items()))
    else:
        st.caption("All demand met.")


def plan_tab(res: Results) -> None:
    """Tonnes by origin per material and period, unmet demand as its own black segment
    (each country keeps one colour in every chart and solve), China's share per material
    by tonnes and by value, and the purchases."""
    if res.shares.empty and res.unmet.empty:
        st.info("No purchases in this plan.")
        return
    bars = pd.concat(
        [
            res.shares[["material", "period", "country", "quantity_t"]],
            res.unmet[["material", "period", "quantity_t"]].assign(country=UNMET),
        ],
        ignore_index=True,
    )
    fig = px.bar(
        bars,
        x="period",
        y="quantity_t",
        color="country",
        color_discrete_map=country_colors(bars["country"]),
        facet_col="material",
        facet_col_wrap=5,
        labels={"quantity_t": "t", "period": "", "country": "origin"},
        title="Volume by origin country (t); black: unmet demand",
    )
    fig.update_yaxes(matches=None, showticklabels=True, tickformat=",.4~g")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    st.plotly_chart(fig, width="stretch")
    st.markdown("**China share per material** (all periods)")
    shares = pd.DataFrame(
        [
            {"material": m, "china_share_of_tonnes": t, "china_share_of_value": v}
            for m in dict.fromkeys(res.china_exposure.get("material", []))
            for t, v in [res.china_share_of(m)]
        ]
    )
    if len(shares):
        show_table(shares)
    st.markdown("**Purchases**")
    show_table(res.allocation, main="purchases")


def chain_tab(res: Results, prefix: str) -> None:
    """The supply chain: a Sankey of the flows, compliance per segment, origin by stage."""
    if not res.has_chain:
        st.info(
            "This workbook has no supply chain (no Processes or Routes sheet): every offer "
            "goes straight to the buyer. See docs/workbook.md, Processes."
        )
        return
    periods = ["all periods", *dict.fromkeys(map(str, res.flows["period"]))]
    shown = st.radio("Periods", periods, horizontal=True, key=f"{prefix}chain-period")
    fig = chain_sankey(
        res.flows,
        f"Supply chain: {res.scenario}",
        periods=None if shown == "all periods" else [shown],
        excluded=res.excluded_stage_countries,
    )
    fig.update_layout(height=620)
    st.plotly_chart(fig, width="stretch")
    if len(res.compliance):
        st.markdown(
            "**Compliant segments** (no stage in " + ", ".join(res.excluded_stage_countries) + ")"
        )
        show_table(res.compliance)
    st.markdown(
        "**Origin by stage** (tonnes received, attributed proportionally through the flows)"
    )
    show_table(res.origin_by_stage)


def costs_tab(res: Results) -> None:
    """Buyer spend by component, in $ M on a $ axis (it read "0.2B" in plotly's SI units)."""
    df = pd.DataFrame(
        {
            "component": [k.replace("_", " ") for k in SPEND_KEYS],
            "spend_m": [res.cost_breakdown_usd[k] / 1e6 for k in SPEND_KEYS],
        }
    )
    fig = px.bar(
        df,
        x="component",
        y="spend_m",
        labels={"spend_m": "buyer spend ($ M)", "component": ""},
        title="Buyer spend by component ($ M)",
    )
    fig.update_yaxes(tickprefix="$", tickformat=",.0f")
    fig.update_traces(hovertemplate="%{x}: $%{y:,.1f} M<extra></extra>")
    st.plotly_chart(fig, width="stretch")
    if not res.unmet.empty:
        st.warning(
            "Unmet demand: "
            + "; ".join(
                f"{r.material} {r.period}: {r.quantity_t:,.1f} t" for r in res.unmet.itertuples()
            )
        )


def independence_tab(outcome: Outcome) -> None:
    front = outcome.frontier
    if front is None:
        st.info("The frontier is not available for this what-if.")
        return
    st.write(front.sentence)
    curve = front.table.assign(buyer_spend_m=front.table["buyer_spend_usd"] / 1e6)
    fig = px.line(
        curve,
        x="max_china_share",
        y="buyer_spend_m",
        markers=True,
        labels={
            "max_china_share": "cap on China's share by tonnes, per material and period",
            "buyer_spend_m": "buyer spend ($ M)",
        },
        title="Cost of independence from China",
    )
    res = outcome.results
    if res is not None and res.buyer_spend_usd is not None:
        # on the curve's own measure: the largest China tonnage share of any material-period
        fig.add_scatter(
            x=[res.max_china_tonnes_share],
            y=[res.buyer_spend_usd / 1e6],
            mode="markers",
            marker={"size": 14, "symbol": "diamond", "color": "#d62728"},
            name="this what-if",
        )
    fig.update_xaxes(autorange="reversed", tickformat=".0%")
    fig.update_yaxes(tickprefix="$", tickformat=",.0f")
    st.plotly_chart(fig, width="stretch")
    st.caption(
        "The x-axis is a cap per material and period (by tonnes), not the KPIs' China share "
        "of value; the diamond is this what-if at its largest per-material China share."
    )
    show_table(front.table, main="frontier")


def emissions_frontier_of(outcome: Outcome) -> EmissionsFrontier | None:
    """The cost-vs-emissions frontier of this what-if's inputs, once per fingerprint (plain
    tables in the session, never a solver object)."""
    if outcome.inputs is None:
        return None
    cache: dict[str, EmissionsFrontier] = state.setdefault("emissions_frontiers", {})
    if outcome.fingerprint not in cache:
        if len(cache) > 20:
            cache.clear()
        cache[outcome.fingerprint] = emissions_frontier(outcome.inputs, points=11)
    return cache[outcome.fingerprint]


def emissions_tab(outcome: Outcome) -> None:
    """The plan's emissions (stated intensities; unknown ones listed apart), by stage and
    country, and the frontier of cost against emissions with this plan marked."""
    res = outcome.results
    if res is None:
        return
    c1, c2, c3 = st.columns(3)
    # short labels and values: readable at 1024 px (the help text says the rest)
    c1.metric(
        "kt CO2e (stated)",
        f"{res.emissions_t_co2e / 1000:,.1f}",
        help="Emissions of the plan's sources with a stated intensity",
    )
    c2.metric(
        "t, no intensity",
        f"{res.emissions_unknown_t:,.1f}",
        help="Tonnes bought or made by sources with no stated intensity: not in the total",
    )
    c3.metric(
        "Carbon charge",
        money_m(res.cost_breakdown_usd["carbon_price"]),
        help="The carbon price times the plan's emissions: a modelling price, not in spend",
    )
    e = res.emissions
    if len(e):
        known = e[e["stated"].astype(bool)]
        by = known.groupby(["stage", "country"], as_index=False)["emissions_t_co2e"].sum()
        fig = px.bar(
            by,
            x="stage",
            y="emissions_t_co2e",
            color="country",
            color_discrete_map=country_colors(by["country"]),
            labels={"emissions_t_co2e": "t CO2e", "stage": "stage"},
            title="Emissions by stage and country (stated intensities)",
        )
        st.plotly_chart(fig, width="stretch")
    # on request: tracing it re-solves the plan 12 times, on every later change too
    trace = st.toggle("Trace the cost-vs-emissions frontier", key="trace-emissions-frontier")
    front = emissions_frontier_of(outcome) if trace else None
    if front is not None and len(front.table):
        st.write(front.sentence)
        t = front.table
        fig = px.line(
            t,
            x="counted_t_co2e",
            y="buyer_spend_usd",
            markers=True,
            hover_data=["abatement_usd_per_t_co2e"],
            labels={
                "counted_t_co2e": "emissions, t CO2e (as a cap counts them)",
                "buyer_spend_usd": "buyer spend (USD)",
                "abatement_usd_per_t_co2e": "abatement USD/t CO2e",
            },
            title="Cost against emissions (each point: the cheapest plan under a cap)",
        )
        fig.add_scatter(
            x=[res.emissions_t_co2e],
            y=[res.buyer_spend_usd],
            mode="markers",
            marker={"size": 14, "symbol": "diamond"},
            name="this plan",
        )
        fig.update_xaxes(autorange="reversed")
        st.plotly_chart(fig, width="stretch")
        st.caption(front.note)
        show_table(t)
    if len(e):
        st.markdown("**Sources** (blank intensity: not stated in the workbook)")
        show_table(e, main="emissions")


def sensitivity_tab(res: Results) -> None:
    for line in res.highlights:
        st.write("- " + line)
    sp = res.shadow_prices
    st.markdown("**Binding constraints (shadow prices)**")
    show_table(sp[sp["binding"]], main="shadow_prices")
    st.markdown(
        "**Tariff break-evens per offer and period** (a detail: a workbook sets one rate "
        "per country and material)"
    )
    show_table(res.breakevens_by_period, main="breakevens")


def workbook_file() -> bytes:
    """The active workbook's file: the accepted upload, else the default workbook."""
    data: bytes | None = state.get("workbook_bytes")
    return data if data is not None else DEFAULT_WORKBOOK.read_bytes()


#: Said wherever the risk model's cost is shown: it prices unmet demand, it is not money
MODEL_COST = ": a modelling cost (it prices unmet demand and emissions), not money"


def dollars(text: str) -> str:
    """Text for st.markdown: a `$` would otherwise open LaTeX."""
    return text.replace("$", "\\$")


def risk_tab(session: Session, scenario: str, prefix: str) -> None:
    """What must we commit now: the resilient plan, on request only (a run of seconds),
    kept in the session as plain data until the workbook or the scenario changes."""
    key = (state.workbook_id, scenario)
    if state.get("risk", (key,))[0] != key:
        del state["risk"]
    st.caption(
        f"What to sign and stock now, before disruptions are known: the plan is chosen "
        f"against {APP_SAMPLES} disruption samples and checked on {APP_EVAL_SAMPLES} others. "
        "It runs on the workbook and scenario as loaded (not the sidebar's what-ifs or edits)."
    )
    inputs = session.base_inputs
    if not has_decisions(inputs):
        st.info(NO_DECISION)
        return
    s = inputs.settings
    c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
    lam = c1.number_input(
        "Risk weight (lambda >= 0)",
        0.0,
        1e6,
        float(s.risk_weight),
        step=0.5,
        key=f"{prefix}risk-weight",
        help="Objective: expected cost + lambda x CVaR (0: expected cost alone)",
    )
    alpha = c2.number_input(
        "CVaR level (0 < alpha < 1)",
        0.001,
        0.999,
        min(max(float(s.cvar_level), 0.001), 0.999),
        step=0.01,
        format="%.3f",
        key=f"{prefix}cvar-level",
        help="CVaR: the mean cost of the worst (1 - alpha) share of samples",
    )
    if c3.button("Find a resilient plan", key="risk-run", type="primary"):
        bar = st.progress(0.0, text="Starting")

        def report(what: str, done: int, total: int) -> None:
            bar.progress(progress_fraction(what, done, total), text=what.capitalize())

        try:
            view = run_risk(workbook_file(), state.workbook_name, scenario, lam, alpha, report)
            state.risk = (key, view)
        except InvalidInputError as exc:
            st.error(f"No resilient plan: {exc}")
            for p in exc.problems[:20]:
                st.text(str(p))
        except (SourcingError, ValueError) as exc:
            st.error(f"No resilient plan: {exc}")
        finally:
            bar.empty()
    kept = state.get("risk")
    if kept is not None:
        risk_result(kept[1], lam, alpha)


def risk_result(view: RiskView, lam: float, alpha: float) -> None:
    """A resilient run: the sentence, what to commit, both plans out of sample, VSS and
    EVPI, the frontier and the protection each commitment buys."""
    if not (math.isclose(view.risk_weight, lam) and math.isclose(view.cvar_level, alpha)):
        st.info(
            f"Shown: the run at risk weight {view.risk_weight:g} and CVaR level "
            f"{view.cvar_level:g}; click the button to run at the new values."
        )
    st.markdown(f"**{dollars(view.headline)}.**")
    st.caption(f"{COST_NOTE} Found in {view.seconds:.1f} s.")
    for w in view.warnings:
        st.warning(w)
    st.markdown(
        "**What to commit now**, per period: the recommended plan against the deterministic "
        "one (what is signed assuming no disruption); (max) = all that is allowed"
    )
    rows = view.commitments
    show_table(pd.DataFrame(rows), height=min(35 * len(rows) + 38, 600))
    st.markdown(f"**Both plans out of sample** ({view.eval_samples} other samples)")
    rec, det = view.plans
    cvar = f"Risk-model CVaR{view.cvar_level:.0%}"
    measures = (
        ("Buyer spend", "buyer_spend_usd", money_m, "Expected buyer spend: money"),
        ("Expected unmet", "expected_unmet_t", tonnes_t, "Expected unmet demand, t"),
        ("Risk-model cost, mean", "expected_cost_usd", model_money, "Expected cost"),
        (cvar, "cvar_usd", model_money, "The risk model's mean cost in its worst samples"),
    )
    left, right = st.columns(2)
    left.markdown("*Recommended plan* (change against the deterministic one)")
    right.markdown("*Deterministic plan* (assumes no disruption)")
    for label, k, show, why in measures:  # one row per measure: the plans side by side
        c1, c2 = st.columns(2)
        why += MODEL_COST if k in ("expected_cost_usd", "cvar_usd") else ""
        diff = rec[k] - det[k]
        delta = show(diff, signed=True) if math.isfinite(diff) and diff != 0 else None
        c1.metric(label, show(rec[k]), delta, delta_color="inverse", help=why)
        c2.metric(label, show(det[k]), help=why)
    for p in view.plans:
        if p["unsolved"]:
            st.warning(f"{p['unsolved']} of the {p['plan']} plan's samples could not be solved")
    c1, c2 = st.columns(2)
    c1.metric(
        "VSS (model cost)",
        money(view.vss_usd),
        help="Value of the stochastic solution, in sample: how much worse the deterministic "
        "plan's expected cost + lambda x CVaR is" + MODEL_COST,
    )
    c2.metric(
        "EVPI (model cost)",
        money(view.evpi_usd),
        help="Expected value of perfect information, in sample: what knowing the disruption "
        "in advance would save" + MODEL_COST,
    )
    if len(view.frontier) > 1:
        front = pd.DataFrame(view.frontier)
        fig = px.line(
            front,
            x="model CVaR ($ M)",
            y="expected model cost ($ M)",
            markers=True,
            hover_data=["risk weight"],
            title="Expected cost against CVaR (in sample, risk model)",
        )
        fig.update_xaxes(tickformat=",.0f")
        fig.update_yaxes(tickformat=",.0f")
        if view.frontier_note:  # from zero: the points coincide, as they do
            fig.update_xaxes(rangemode="tozero")
            fig.update_yaxes(rangemode="tozero")
        fig.update_layout(height=320, margin={"t": 50, "b": 40})
        st.plotly_chart(fig, width="stretch")
        weights = ", ".join(f"{f['risk weight']:g}" for f in view.frontier)
        st.caption(f"One point per risk weight ({weights}). {view.frontier_note or ''}")
    if view.protection:
        st.markdown(
            "**Protection per commitment**: what each one saves, dropped alone to its lower "
            "bound (in sample)"
        )
        show_table(pd.DataFrame(view.protection))
    st.download_button(
        "Resilient plan (.xlsx)",
        view.xlsx,
        file_name=f"resilient-{view.scenario}.xlsx",
        key="download-resilient",
        on_click="ignore",  # a download changes nothing: no rerun
    )


def model_money(value: float, signed: bool = False) -> str:
    """A risk-model cost: in $ B from $10 B up (it runs to trillions), signed for a delta."""
    return ("+" if signed and value >= 0 else "") + money(value)


def tonnes_t(value: float, signed: bool = False) -> str:
    """Tonnes with their unit, signed for a delta."""
    text = tonnes(value, unit=True)
    return ("+" + text if value >= 0 else text) if signed else text


def changes_panel(session: Session, res: Results, whatif: WhatIf) -> None:
    """Every change against the scenario as loaded, what it did per material, and why a
    change moved nothing (from reduced costs: the landed cost at which an offer enters)."""
    changes: list[str] = state.changes
    title = f"Changes vs the scenario as loaded ({len(changes)})" if changes else "No changes"
    with st.expander(title, expanded=bool(changes)):
        if not changes:
            st.caption("The plan is the scenario as loaded; change a control or a cell.")
            return
        for text in changes:
            st.markdown("- " + dollars(text))
        base = session.run(WhatIf()).results  # cached; with its frontier, as the page shows it
        if base is None or not base.solved:
            return
        importer = session.base_inputs.settings.importer_country
        reasons = no_effect_reasons(
            whatif.tariffs, whatif.edited, session.base_tables, res, base, importer
        )
        if reasons:
            st.markdown(
                "**Why these moved nothing** (read from the solved plan)\n"
                + "\n".join("- " + dollars(text) for text in reasons)
            )
        deltas = material_deltas(res, base)
        moved = deltas[
            (deltas[["spend_change_usd", "bought_change_t", "unmet_change_t"]].abs() > 1e-6).any(
                axis=1
            )
        ]
        if moved.empty:
            st.caption("These changes move nothing: every material's spend and tonnes stay.")
            return
        shown = pd.DataFrame(  # signed, with units: "+$257.5 M", "-5,135.5 t"
            {
                "Material": moved["material"],
                "Purchases change": [money_m(v, signed=True) for v in moved["spend_change_usd"]],
                "Bought change": [tonnes_t(v, signed=True) for v in moved["bought_change_t"]],
                "Unmet change": [tonnes_t(v, signed=True) for v in moved["unmet_change_t"]],
            }
        )
        st.dataframe(shown, hide_index=True, placeholder="")


def login_configured() -> bool:
    """Sign-in is on when `.streamlit/secrets.toml` has an `[auth]` section (Streamlit's
    OIDC login); without one the app is open, as on a planner's own machine."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError):  # no secrets file at all: off
        return False


def signed_in() -> bool:
    """With sign-in on, stop at a log-in button until the user is signed in; then show who
    is signed in, with a log-out button, in the sidebar."""
    if not login_configured():
        return True
    if not st.user.get("is_logged_in"):  # a key of st.user (AppTest has no attribute)
        st.title("Critical-minerals sourcing: what if?")
        st.write("This deployment asks you to sign in; your workbook stays in your session.")
        st.button("Log in", on_click=st.login, type="primary", key="login")
        return False
    with st.sidebar:
        st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'you'}")
        st.button("Log out", on_click=st.logout, key="logout")
    return True


def main() -> None:
    """The page."""
    if not signed_in():
        return
    st.title("Critical-minerals sourcing: what if?")
    with st.sidebar:
        handle_upload()
        wb = active_workbook()
        st.markdown(f"Active workbook: **{state.workbook_name}**")
        err = state.get("upload_error")
        if err:
            st.error(err[0])
            for line in err[1][:50]:
                st.text(line)
        scenario = st.selectbox("Scenario", wb.scenario_names, key=f"wb{state.workbook_id}:scen")
        about = "The workbook as it is." if scenario == BASELINE else None
        st.caption(about or find_scenario(wb, scenario).description or "(no description)")
        session = get_session(scenario)
        prefix = f"wb{state.workbook_id}:{scenario}:"
        controls = sidebar_controls(session, prefix)
    top = st.container()  # filled after the solve, shown above the tabs
    tabs = st.tabs(
        [
            "Plan",
            "Chain",
            "Costs",
            "Independence",
            "Sensitivity",
            "Edit",
            "Downloads",
            "Emissions",
            "Risk",
        ]
    )
    with tabs[5]:
        edited, unfinished = edit_tab(session, prefix)
    whatif = WhatIf(
        controls.exclude_china,
        controls.max_china_share,
        controls.tariffs,
        controls.floors,
        edited,
        carbon_price=controls.carbon_price,
    )
    outcome = session.run(whatif)
    shown = Shown(outcome, whatif, describe_whatif(whatif, session.base_tables))
    good: dict[tuple[int, str], Shown] = state.setdefault("last_good", {})
    key = (state.workbook_id, scenario)
    # what the plan on screen does not reflect, in short ("unfinished Offers row 42")
    behind = [f"unfinished {u.split(':')[0]}" for u in unfinished]
    if outcome.results is not None:
        good[key] = shown
    elif key in good:  # an edit the validator rejects: the last plan that solved stays
        shown = good[key]
        behind.insert(0, f"the edits ({len(errors(outcome.problems))} problem(s))")
    with state[f"{prefix}problems-box"]:  # in the Edit tab, below the editors
        for p in outcome.problems:
            (st.error if p.severity == "error" else st.warning)(str(p))
        for line in unfinished:
            st.info(f"Unfinished, not in the plan yet: {line}")
    state.changes = shown.changes
    if shown.outcome.results is None:
        with top:
            st.error("Fix the problems listed in the Edit tab to see a plan.")
    else:
        what_if_tabs(session, shown, tabs, top, scenario, prefix, behind)
    with tabs[8]:  # last: a run here leaves every other tab already drawn
        risk_tab(session, scenario, prefix)


@dataclass(frozen=True)
class Shown:
    """The what-if whose plan is on screen, with its changes in words."""

    outcome: Outcome
    whatif: WhatIf
    changes: list[str]


def what_if_tabs(
    session: Session,
    shown: Shown,
    tabs: Sequence[DeltaGenerator],
    top: DeltaGenerator,
    scenario: str,
    prefix: str,
    behind: list[str],
) -> None:
    """The header's numbers and the tabs of a solved what-if; `behind` lists what the plan
    on screen does not reflect (rows still being typed, edits the validator rejects)."""
    outcome = shown.outcome
    res = outcome.results
    assert res is not None
    with top:
        kpis(res, session.baseline)
        status = (
            f"{state.workbook_name} · scenario {scenario} · inputs #{outcome.fingerprint} · "
            f"status {res.status.value} · solved in {outcome.solve_ms:.0f} ms"
            f" ({'model rebuilt' if outcome.rebuilt else 'model updated in place'})"
        )
        if behind:  # a caption either way, one line: the page below does not jump
            st.caption(  # short: one line, as the status line it replaces
                f":orange[**Not reflecting {'; '.join(behind)}**] · the last plan that "
                f"solved (inputs #{outcome.fingerprint}); details in the Edit tab"
            )
        else:
            st.caption(status)
        if res.status.value != "optimal":
            st.error(res.message)
        changes_panel(session, res, shown.whatif)
    with tabs[0]:
        plan_tab(res)
    with tabs[1]:
        chain_tab(res, prefix)
    with tabs[2]:
        costs_tab(res)
    with tabs[3]:
        independence_tab(outcome)
    with tabs[4]:
        sensitivity_tab(res)
    with tabs[7]:
        emissions_tab(outcome)
    with tabs[6]:
        downloads(session, shown, scenario)


def downloads(session: Session, shown: Shown, scenario: str) -> None:
    """The what-if's report and inputs, each built only when its button is clicked (a
    callable: building both took about 150 ms of every rerun)."""
    outcome, res = shown.outcome, shown.outcome.results
    changes = list(shown.changes)
    if res is not None and outcome.inputs is not None:
        inputs = outcome.inputs
        st.download_button(
            "Report for this what-if (.xlsx)",
            lambda: report_bytes(res, inputs, changes),
            file_name=f"report-{scenario}-{whatif_slug(changes)}-{outcome.fingerprint}.xlsx",
            key="download-report",
            on_click="ignore",  # no rerun (and no re-solve) for a download
        )
    original, loaded = workbook_file(), session.loaded_tables
    st.download_button(
        "Inputs of this what-if (.xlsx)",
        lambda: inputs_bytes(outcome.tables, original, loaded),
        file_name=f"inputs-{scenario}-{outcome.fingerprint}.xlsx",
        key="download-inputs",
        on_click="ignore",
    )


main()
