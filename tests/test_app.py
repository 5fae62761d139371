"""The Streamlit app through streamlit.testing.v1.AppTest: controls drive the numbers shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def money(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace(" M", ""))


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def test_opens_on_the_default_workbook_with_headline_numbers(at: AppTest) -> None:
    from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook
    from optimizer.runs.pipeline import solve_scenario

    res = solve_scenario(open_workbook(DEFAULT_WORKBOOK))[2]
    assert metric(at, "Buyer spend") == f"${res.buyer_spend_usd / 1e6:,.1f} M"
    assert metric(at, "Fiscal cost") == f"${res.fiscal_cost_usd / 1e6:,.1f} M"
    assert metric(at, "Unmet demand") == "0.0 t"
    assert metric(at, "China share (value)") == f"{res.china_value_share:.1%}"
    assert any("Active workbook: **default.xlsx**" in m.value for m in at.markdown)


def test_exclude_china_drives_china_share_to_zero_and_cost_up(at: AppTest) -> None:
    before = money(metric(at, "Buyer spend"))
    at.toggle(key="wb0:baseline:excl").set_value(True).run()
    assert not at.exception
    assert metric(at, "China share (value)") == "0.0%"
    assert money(metric(at, "Buyer spend")) > before
    assert metric(at, "Unmet demand") != "0.0 t"  # 2026 Tb oxide falls short without China
    assert any("model updated in place" in c.value for c in at.caption)


def test_tariff_slider_and_scenario_picker(at: AppTest) -> None:
    before = float(metric(at, "China share (value)").rstrip("%"))
    at.number_input(key="wb0:baseline:tariff:China").set_value(60.0).run()
    assert float(metric(at, "China share (value)").rstrip("%")) < before
    at.selectbox(key="wb0:scen").set_value("exclude_china").run()
    assert metric(at, "China share (value)") == "0.0%"
    assert at.slider(key="wb0:exclude_china:share").disabled  # the cap is moot under exclusion


def test_china_share_slider(at: AppTest) -> None:
    at.slider(key="wb0:baseline:share").set_value(20).run()
    # the cap limits each material's share by tonnes; the KPI is by value: it falls too
    assert float(metric(at, "China share (value)").rstrip("%")) <= 20.0 + 1e-9
    assert money(metric(at, "vs baseline").replace("+", "")) > 0


def test_carbon_price_control_charges_the_objective_not_spend_and_lowers_emissions(
    at: AppTest,
) -> None:
    """At $1,000/t CO2e the plan buys cleaner sources: stated emissions fall, buyer spend rises
    by less than the charge (the charge is shown apart, never in spend)."""
    before = float(metric(at, "kt CO2e (stated)").replace(",", ""))
    assert metric(at, "Carbon charge") == "$0.0 M"
    at.number_input(key="wb0:baseline:carbon").set_value(1000.0).run()
    assert not at.exception
    after = float(metric(at, "kt CO2e (stated)").replace(",", ""))
    assert after < before
    assert money(metric(at, "Carbon charge")) > 0
    assert not any("least any plan can emit" in m.value for m in at.markdown)  # on request
    at.toggle(key="trace-emissions-frontier").set_value(True).run()
    assert any("least any plan can emit" in m.value for m in at.markdown)  # the frontier


def test_risk_tab_finds_a_resilient_plan_on_request_and_keeps_it(at: AppTest) -> None:
    """Nothing runs until the button is clicked; then the headline and one row per decision
    of the default workbook (recommended against deterministic, t); a what-if change keeps
    the result without recomputing it, a scenario change clears it."""
    from optimizer.analysis.resilient import prepare_run
    from optimizer.contract.book import DEFAULT_WORKBOOK

    decisions = prepare_run(DEFAULT_WORKBOOK).first.decisions
    assert len(decisions) == 22

    def headlines() -> list[str]:
        return [m.value for m in at.markdown if "The recommended plan commits" in m.value]

    assert headlines() == []  # on request only
    at.button(key="risk-run").click().run()
    assert not at.exception, at.exception
    (head,) = headlines()
    assert head.startswith("**The recommended plan commits ") and " of 22 decisions" in head
    table = next(d.value for d in at.dataframe if "Recommended (t)" in d.value.columns)
    assert list(table.columns[:6]) == [
        "Commitment",
        "Supplier",
        "Material",
        "Period",
        "Recommended (t)",
        "Deterministic (t)",
    ]
    assert list(zip(table["Supplier"], table["Material"], table["Period"], strict=True)) == [
        (d.supplier or "-", d.material, str(d.period)) for d in decisions
    ]
    assert table["Recommended (t)"].str.endswith(" (max)").any()
    labels = [m.label for m in at.metric]
    assert labels.count("Risk-model CVaR95%") == 2  # both plans, named as the model's cost
    assert labels.count("Buyer spend") == 3  # the header's, then both plans'
    found = [c.value for c in at.caption if "Found in" in c.value]

    at.number_input(key="wb0:baseline:tariff:China").set_value(60.0).run()
    assert headlines() == [head]
    assert [c.value for c in at.caption if "Found in" in c.value] == found  # not re-run
    at.selectbox(key="wb0:scen").set_value("exclude_china").run()
    assert headlines() == []


def test_risk_tab_says_to_mark_decisions_when_the_workbook_has_none(tmp_path: Path) -> None:
    from optimizer.common.xlsx import write_input_workbook
    from optimizer.contract.book import open_workbook
    from tests.conftest import tiny_tables

    path = tmp_path / "tiny.xlsx"
    write_input_workbook(path, tiny_tables())
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["workbook"] = open_workbook(path)
    app.session_state["workbook_name"] = "tiny.xlsx"
    app.session_state["workbook_id"] = 1
    app.run()
    assert not app.exception, app.exception
    assert any("Set `decide` TRUE on Offtakes rows" in i.value for i in app.info)
    assert [b.key for b in app.button if b.key == "risk-run"] == []  # nothing to run


def test_risk_progress_moves_forward_to_the_end() -> None:
    """The Risk tab's bar: each phase run_resilient reports lands past the one before."""
    from optimizer.runs.risk_view import progress_fraction

    reported = [
        ("drawing samples", 0, 40),
        ("building samples", 0, 31),
        ("solving the extensive form", 0, 1),
        ("wait-and-see", 0, 31),
        ("frontier", 0, 2),
        ("frontier", 1, 2),
        ("protection per commitment", 0, 1),
        ("out-of-sample evaluation", 0, 2),
        ("out-of-sample evaluation", 2, 2),
    ]
    shares = [progress_fraction(*r) for r in reported]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    assert progress_fraction("a phase it does not know", 3, 4) == 0.0


def test_tables_have_plain_english_headers_and_china_share_per_material(at: AppTest) -> None:
    """Result tables say what a column holds and its unit (no snake_case); China's share
    comes per material, by tonnes and by value, matching Results.china_share_of."""
    from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook
    from optimizer.runs.pipeline import solve_scenario
    from optimizer.runs.session import EDITABLE, Session

    res = solve_scenario(open_workbook(DEFAULT_WORKBOOK))[2]
    frames = [d.value for d in at.dataframe]
    purchases = next(f for f in frames if "Landed ($/kg)" in f.columns)
    assert {"Supplier", "Quantity (t)", "Tariff rate (%)", "Purchase ($)"} <= set(purchases)
    # the editors keep the contract's column names (their labels are plain English)
    session = Session(open_workbook(DEFAULT_WORKBOOK))
    editors = {tuple(session.base_tables[s][0]) for s in EDITABLE}
    results = [f for f in frames if tuple(f.columns) not in editors]
    assert len(results) < len(frames)
    for f in results:
        assert not [c for c in f.columns if "_" in str(c)], list(f.columns)
    shares = next(f for f in frames if "China share of tonnes (%)" in f.columns)
    by_material = shares.set_index("Material")
    for material in ("NdPr oxide", "Gallium"):
        tonnes, value = res.china_share_of(material)
        assert by_material.loc[material, "China share of tonnes (%)"] == pytest.approx(tonnes)
        assert by_material.loc[material, "China share of value (%)"] == pytest.approx(value)
    assert 0 < by_material["China share of value (%)"].max() <= 1


def test_sign_in_is_off_without_secrets_and_gates_the_app_with_them() -> None:
    """Without an [auth] section in secrets the app opens on the plan; with one (Streamlit's
    OIDC login) it shows only a log-in button until the user is signed in."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "client",
        "client_secret": "secret",
        "server_metadata_url": "https://login.example.invalid/.well-known/openid-configuration",
    }
    app.run()
    assert not app.exception
    assert [b.label for b in app.button] == ["Log in"]
    assert not app.metric  # no number of the plan before sign-in
    assert not any("Active workbook" in m.value for m in app.markdown)  # no upload either


def test_the_form_changes_a_capacity_and_refuses_an_offtake_on_no_offer(at: AppTest) -> None:
    """The form's capacity entry edits the supplier's row (listed as a change, the plan
    re-solved); an offtake on an offer that does not exist is refused at submit, at its
    cell, and the plan stays as it was."""
    prefix = "wb0:baseline:"
    at.radio(key=f"{prefix}form-kind").set_value("Supplier capacity").run()
    next(s for s in at.selectbox if s.label == "Supplier").set_value("Umicore Belgium")
    next(n for n in at.number_input if n.label.startswith("Capacity")).set_value(12.0)
    next(b for b in at.button if b.label == "Check and apply").click().run()
    assert not at.exception
    assert any(s.value == "Applied: Suppliers: Umicore Belgium changed" for s in at.success)
    changes = [m.value for m in at.markdown if "capacity_t" in m.value]
    assert changes and "capacity_t: 30 -> 12" in changes[0]
    spend = metric(at, "Buyer spend")
    at.radio(key=f"{prefix}form-kind").set_value("Offtake").run()
    next(s for s in at.selectbox if s.label == "Supplier").set_value("Umicore Belgium")
    next(s for s in at.selectbox if s.label == "Material").set_value("Gallium")
    next(n for n in at.number_input if n.label.startswith("Minimum")).set_value(5.0)
    next(b for b in at.button if b.label == "Check and apply").click().run()
    assert not at.exception
    refused = [e.value for e in at.error if e.value.startswith("Not applied")]
    assert refused == [
        'Not applied: Offtakes!A9: supplier "Umicore Belgium" has no offer for "Gallium"'
    ]
    assert metric(at, "Buyer spend") == spend


def test_every_table_and_editor_shows_a_missing_value_blank_not_none(at: AppTest) -> None:
    """Streamlit draws a missing value as "None" unless told otherwise (its grid is a
    canvas, so this is checked on what the page sends it): every table says blank."""
    at.toggle(key="wb0:baseline:excl").set_value(True).run()  # the changes panel's table too
    grids = list(at.dataframe)
    assert len(grids) >= 8
    assert all(g.proto.HasField("placeholder") and g.proto.placeholder == "" for g in grids)
