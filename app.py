"""Streamlit what-if app (first cut): pick a scenario of the default workbook, see the plan.

The full what-if session (tariff sliders, editable tables, frontier) comes with
the app issue; this page is thin over `optimizer/` and holds no model logic.
"""

from __future__ import annotations

import streamlit as st

from optimizer.pipeline import DEFAULT_WORKBOOK, open_workbook, solve_scenario

st.set_page_config(page_title="Critical-minerals sourcing", layout="wide")
st.title("Critical-minerals sourcing plan")

wb = open_workbook(DEFAULT_WORKBOOK)
scenario = st.selectbox("Scenario", wb.scenario_names)
_, _, base = solve_scenario(wb)
_, _, res = solve_scenario(wb, scenario)

cost = res.total_cost_usd or 0.0
delta = cost - (base.total_cost_usd or 0.0)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Total cost", f"${cost / 1e6:,.1f} M")
c2.metric("vs baseline", f"{delta / 1e6:+,.1f} M")
c3.metric("Unmet demand", f"{res.unmet_t:,.1f} t")
c4.metric("China share", f"{res.china_share:.1%}")
st.caption(f"Status: {res.status.value}. {res.message}")
for line in res.highlights:
    st.write("- " + line)
st.dataframe(res.allocation.drop(columns=["scenario"]), hide_index=True)
