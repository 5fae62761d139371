"""Synthetic instances: seeded, valid workbooks, every constraint family, solvable."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.contract.book import open_workbook
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Status
from optimizer.model.synthetic import data_from_tables, dims_for, generate_tables, write_workbook
from optimizer.runs.cli import main
from optimizer.runs.pipeline import model_data


def test_same_seed_same_instance_other_seed_other_instance() -> None:
    assert generate_tables("small", 7) == generate_tables("small", 7)
    assert generate_tables("small", 7) != generate_tables("small", 8)
    assert generate_tables(2_000, 1) == generate_tables(2_000, 1)


def test_written_workbook_validates_and_reads_back_as_the_same_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_workbook(tmp_path / "small.xlsx", "small", seed=3)
    assert main(["validate", str(path)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    _, from_file = model_data(open_workbook(path))
    assert from_file == data_from_tables(generate_tables("small", 3))
    for scenario in ("china_tariff_50", "no_country_cap"):
        model_data(open_workbook(path), scenario)  # scenarios apply cleanly


def test_small_instance_uses_every_family_and_solves_optimal() -> None:
    data = data_from_tables(generate_tables("small", 0))
    s = data.settings
    assert s.max_china_share < 1 and s.max_country_share < 1 and s.min_allied_share > 0
    assert data.capacity and data.hard_minimum and data.take_or_pay and data.stock
    assert any(b.upper_t < float("inf") for b in data.buys.values())  # offer limits
    sol = FastOptimizer(data).solve()
    assert sol.status is Status.OPTIMAL
    families = {"balance", "reserve_min", "facility_cap", "offtake_min", "take_or_pay"}
    families |= {"china_cap", "country_cap", "allied_min"}
    assert set(sol.duals) == families
    assert all(sol.duals[f] for f in families)  # every family has rows
    demand = sum(data.demand.values())
    assert sum(sol.unmet.values()) <= 0.01 * demand  # supply is enough: little or none unmet


def test_magnitudes_are_realistic() -> None:
    tables = generate_tables("10k", 0)
    prices = [o["price_usd_per_kg"] for o in tables["Offers"]]
    assert min(prices) >= 10 and max(prices) <= 5000
    tonnes = [d["demand_t"] for d in tables["Demand"]]
    tonnes += [s["capacity_t"] for s in tables["Suppliers"] if "capacity_t" in s]
    tonnes += [o["max_t"] for o in tables["Offers"] if o["max_t"] is not None]
    assert min(tonnes) >= 1 and max(tonnes) <= 10_000


def test_sizes_are_about_their_names() -> None:
    data = data_from_tables(generate_tables("10k", 0))
    variables = len(data.buys) + len(data.demand) + len(data.take_or_pay)
    variables += len(data.stock) * len(data.periods)
    assert 8_000 <= variables <= 12_500
    for size, approx in (("100k", 100_000), ("1m", 1_000_000)):
        d = dims_for(size)
        assert 0.8 * approx <= d.suppliers * d.offers_per_supplier * d.periods <= 1.2 * approx
    with pytest.raises(ValueError, match="unknown size"):
        dims_for("huge")


def test_cli_writes_a_workbook_that_solves_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "syn.xlsx"
    assert main(["synthetic", str(out), "--size", "small", "--seed", "2"]) == 0
    first = out.read_bytes()
    assert main(["synthetic", str(out), "--size", "default"]) == 73  # exists: refused
    assert out.read_bytes() == first
    assert (
        main(
            [
                "synthetic",
                str(
                    tmp_path / "x.xlsx",
                ),
                "--size",
                "huge",
            ]
        )
        == 64
    )
    assert not (tmp_path / "x.xlsx").exists()
    assert main(["solve", str(out), "--out", str(tmp_path / "r"), "--no-analysis"]) == 0
    assert (tmp_path / "r" / "baseline" / "report.xlsx").exists()
    assert model_data(open_workbook(out))[1] == data_from_tables(generate_tables("small", 2))
