"""`make app`: start the Streamlit app with its heavy modules already imported.

Streamlit imports what app.py imports on the first visitor's run; importing them here
first, in the same process, takes that wait (about half a second here) off the first
page load after `make app`. Arguments after the script name go to `streamlit run`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas  # noqa: F401
import plotly.express  # noqa: F401
from streamlit.web import cli

import optimizer.runs.changes
import optimizer.runs.editing
import optimizer.runs.risk_view
import optimizer.runs.session  # noqa: F401

APP = Path(__file__).resolve().parent.parent / "app.py"

if __name__ == "__main__":
    sys.exit(cli.main(["run", str(APP), *sys.argv[1:]], prog_name="streamlit"))
