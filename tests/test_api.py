"""The Python API for notebooks: README's example runs as printed, and the API's contract holds."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import pandas as pd
import pytest

import optimizer
from optimizer.contract.scenarios import BASELINE
from tests.conftest import ROOT, Tables


def readme_example() -> str:
    """The python block of README's "From Python" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "README's From Python section should hold one python block"
    return blocks[0]


def test_readme_example_runs_exactly_as_printed() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue()
    assert "['baseline', 'exclude_china'" in printed
    assert printed.count("optimal") >= 1
    assert "Over 2026-2028, going from no cap to no China changes buyer spend" in printed
    assert "Expected buyer spend $" in printed


def test_public_names_are_exported_and_listed() -> None:
    assert sorted(optimizer.__all__) == sorted(["__version__", *optimizer._EXPORTS])
    for name in optimizer._EXPORTS:
        assert getattr(optimizer, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = optimizer.nope  # type: ignore[attr-defined]


def test_importing_a_stage_does_not_load_the_stages_above_it() -> None:
    code = (
        "import sys, optimizer.contract.schema, optimizer\n"
        "print(sorted(m for m in sys.modules if m.startswith('optimizer.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout
    assert "optimizer.contract.schema" in loaded
    for stage in ("optimizer.model", "optimizer.analysis", "optimizer.output", "optimizer.runs"):
        assert stage not in loaded


def test_solve_all_returns_tables_as_dataframes_with_the_baseline_first(
    write: object, tables: Tables
) -> None:
    tables["Scenarios"] = [
        {
            "scenario": "no_china",
            "sheet": "Settings",
            "key": "exclude_china",
            "column": "value",
            "value": True,
        },
    ]
    path = write(tables)  # type: ignore[operator]
    results = optimizer.solve_all(path)
    assert list(results) == [BASELINE, "no_china"]
    base, no_china = results[BASELINE], results["no_china"]
    assert isinstance(base.allocation, pd.DataFrame)
    # CN1 at 10 * 1.2 = 12 USD/kg beats JP1 at 12 * 1.15 = 13.8: 20 t at 12 USD/kg
    assert base.buyer_spend_usd == pytest.approx(20 * 1000 * 12.0)
    assert no_china.buyer_spend_usd == pytest.approx(20 * 1000 * 13.8)
    summary = optimizer.compare(results).summary.set_index("scenario")
    assert summary.loc["no_china", "spend_delta_usd"] == pytest.approx(20 * 1000 * 1.8)


def test_unknown_scenario_and_bad_data_raise_the_documented_errors(
    write: object, tables: Tables
) -> None:
    path = write(tables)  # type: ignore[operator]
    with pytest.raises(KeyError, match="unknown scenario"):
        optimizer.solve(path, "nope")
    tables["Offers"][0]["price_usd_per_kg"] = "TBD"
    bad = write(tables)  # type: ignore[operator]
    with pytest.raises(optimizer.InvalidInputError) as caught:
        optimizer.solve(bad)
    assert [str(p) for p in caught.value.problems] == [
        'Offers!C2: price_usd_per_kg must be a number (found "TBD")'
    ]
