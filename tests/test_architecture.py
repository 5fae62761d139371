"""The layout holds: stages import one way, no module grows past about 500 lines.

import-linter runs in `make test` (`lint-imports`); the test here shows that its
contracts catch a wrong-way import, by adding one to a copy of the package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: "No module over about 500 lines" (the layout issue).
MAX_LINES = 520


def _lint(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "optimizer", tmp_path / "optimizer")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    schema = tmp_path / "optimizer" / "contract" / "schema.py"
    schema.write_text(schema.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )


def test_the_contracts_hold_on_the_package() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
    assert "3 kept, 0 broken" in done.stdout


def test_a_wrong_way_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    done = _lint(tmp_path, "\n\nfrom optimizer.runs import cli  # noqa\n")
    assert done.returncode == 1
    assert "Pipeline stages import one way" in done.stdout
    assert "optimizer.contract.schema -> optimizer.runs.cli" in done.stdout


def test_importing_streamlit_breaks_its_contract(tmp_path: Path) -> None:
    done = _lint(tmp_path, "\n\nimport streamlit  # noqa\n")
    assert done.returncode == 1
    assert "The package never imports streamlit" in done.stdout
    assert "BROKEN" in done.stdout


def test_no_module_is_over_about_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "optimizer").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
