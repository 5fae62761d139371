"""End to end in a real browser: `streamlit run` on 127.0.0.1 driven by headless Chromium.

Needs Debian's chromium at /usr/bin/chromium (`make test` installs it) and Playwright's
Python package; Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook
from optimizer.output.results import Results
from optimizer.runs.pipeline import solve_scenario
from optimizer.runs.session import Session, WhatIf
from tests.conftest import ROOT, tiny_tables

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("streamlit did not become healthy")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def page(server: str) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg.goto(server)
        pg.wait_for_selector("text=Buyer spend", timeout=60_000)
        yield pg
        browser.close()


def metric(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def metric_is(page: Page, label: str, value: str) -> None:
    box = page.locator('[data-testid="stMetric"]', has_text=label)
    expect(box.locator('[data-testid="stMetricValue"]')).to_have_text(value, timeout=30_000)


def fingerprint(page: Page) -> str:
    text = page.get_by_text(re.compile(r"inputs #[0-9a-f]{12}")).inner_text()
    found = re.search(r"#([0-9a-f]{12})", text)
    assert found
    return found.group(1)


def spend(res: Results) -> str:
    assert res.buyer_spend_usd is not None
    return f"${res.buyer_spend_usd / 1e6:,.1f} M"


def share(res: Results) -> str:
    return f"{res.china_value_share:.1%}"


def test_planner_session_in_a_real_browser(page: Page, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    wb = open_workbook(DEFAULT_WORKBOOK)
    base, no_china = (solve_scenario(wb, n)[2] for n in ("baseline", "exclude_china"))
    metric_is(page, "Buyer spend", spend(base))
    metric_is(page, "China share (value)", share(base))
    page.screenshot(path=str(ARTIFACTS / "app-start.png"))

    # exclude China: share to zero, spend up, unmet Tb and Ga appear (in tonnes)
    page.get_by_text("Exclude China").click()
    metric_is(page, "China share (value)", "0.0%")
    assert metric(page, "Buyer spend") == spend(no_china)
    assert metric(page, "Unmet demand") == f"{no_china.unmet_t:,.1f} t"
    page.get_by_text("Exclude China").click()
    metric_is(page, "China share (value)", share(base))

    # what the edit below must give, computed independently through the pipeline
    edited = Session(wb)
    offers = [dict(r) for r in edited.base_tables["Offers"]]
    assert offers[0]["supplier"].startswith("China") and offers[0]["price_usd_per_kg"] == 141
    offers[0]["price_usd_per_kg"] = 50.0
    expected = edited.run(WhatIf(edited={"Offers": offers}), with_frontier=False).results
    assert expected is not None

    # edit a data_editor cell: the first offer (China NdPr oxide) from 141 to 50 USD/kg
    before = fingerprint(page)
    page.get_by_role("tab", name="Edit").click()
    grid = page.locator('[data-testid="stDataFrame"]:visible').first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 60, box["y"] + 52)  # first row, supplier column
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # price_usd_per_kg
    page.keyboard.press("Enter")
    editor = page.locator("input.gdg-input")
    expect(editor).to_have_value("141")
    editor.fill("50")
    editor.press("Enter")
    metric_is(page, "China share (value)", share(expected))
    assert fingerprint(page) != before
    assert metric(page, "Buyer spend") == spend(expected)
    assert page.get_by_text("model updated in place").is_visible()
    page.screenshot(path=str(ARTIFACTS / "app-edited.png"))

    # download the report of this what-if and open it
    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Report for this what-if (.xlsx)").click()
    report = tmp_path / "report.xlsx"
    info.value.save_as(report)
    summary = {
        r[0]: r[1]
        for r in openpyxl.load_workbook(report)["Summary"].iter_rows(values_only=True)
        if r[0]
    }
    assert summary["Buyer spend (USD)"] == pytest.approx(expected.buyer_spend_usd, rel=1e-9)
    # the default workbook has a supply chain: China's share is of what the buyer receives
    label = "China share of the value received (shipping facility's country)"
    assert summary[label] == pytest.approx(expected.china_value_share, rel=1e-9)

    # the what-if's inputs solve to the same plan from the command line
    with page.expect_download() as info:
        page.get_by_role("button", name="Inputs of this what-if (.xlsx)").click()
    inputs = tmp_path / "inputs.xlsx"
    info.value.save_as(inputs)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "solve",
            str(inputs),
            "--no-analysis",
            "--out",
            str(tmp_path / "r"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "r" / "baseline" / "results.json").read_text())
    assert doc["buyer_spend_usd"] == pytest.approx(summary["Buyer spend (USD)"], rel=1e-12)

    # a rejected upload keeps the default workbook active and says why
    bogus = tmp_path / "notes.xlsx"
    bogus.write_text("material,demand_t\nGa,1\n")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(str(bogus))
    expect(page.get_by_text("not an .xlsx workbook")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Active workbook: default.xlsx")).to_be_visible()

    # a valid upload becomes the active workbook
    tiny = tmp_path / "tiny.xlsx"
    write_input_workbook(tiny, tiny_tables())
    upload.set_input_files(str(tiny))
    expect(page.get_by_text("Active workbook: tiny.xlsx")).to_be_visible(timeout=30_000)
    metric_is(page, "Buyer spend", "$0.2 M")  # 20 t x 12.0 USD/kg
    page.screenshot(path=str(ARTIFACTS / "app-uploaded.png"), full_page=True)


def test_risk_tab_finds_a_resilient_plan_in_a_real_browser(page: Page) -> None:
    """The button runs the two-stage plan with a progress bar; the bar goes when the
    headline comes."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_role("tab", name="Risk").click()
    page.get_by_role("button", name="Find a resilient plan").click()
    bar = page.locator('[data-testid="stProgress"]')
    expect(bar).to_be_visible(timeout=30_000)  # the run takes seconds: the bar shows
    head = page.get_by_text(re.compile(r"^The recommended plan commits \d+ of 22 decisions"))
    expect(head).to_be_visible(timeout=180_000)
    expect(bar).to_have_count(0)
    assert "recommended plan" in head.inner_text()
    expect(page.get_by_text("What to commit now")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "app-risk.png"))
