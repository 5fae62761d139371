"""The supply chain as a Sankey diagram (plotly): who ships what to whom, up to the buyer.

Built from a results `flows` table, so the report's `chain.html` and the app draw
the same figure. Node = a facility (with its country) or the buyer; link = one
material from one facility to another, summed over the periods shown. A facility's
use of its own output is not drawn. The diagram is weighted by tonnes or by
customs value (USD), switched by the buttons above it; the title says which.
Facilities take their country's colour, as in every other chart (China red), and a label
marked "excluded" when their country is an excluded stage country (China by default).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from optimizer.output.colors import country_color, stable_pick

BUYER_LABEL = "Buyer (United States)"
#: Link colours by material, from a stable hash of its name (colour-blind safe: Okabe-Ito,
#: 40% opaque): a material keeps its colour in every solve.
PALETTE = (
    "rgba(0,114,178,0.45)",
    "rgba(230,159,0,0.45)",
    "rgba(0,158,115,0.45)",
    "rgba(204,121,167,0.45)",
    "rgba(86,180,233,0.45)",
    "rgba(213,94,0,0.45)",
    "rgba(240,228,66,0.55)",
    "rgba(0,0,0,0.30)",
)
OTHER_NODE = "rgb(90,90,90)"
BUYER_NODE = "rgb(0,90,160)"


def _links(flows: pd.DataFrame, periods: Iterable[str] | None) -> pd.DataFrame:
    f = flows[flows["from"] != flows["to"]]
    if periods is not None:
        f = f[f["period"].astype(str).isin([str(p) for p in periods])]
    f = f.assign(compliant_t=f["quantity_t"].where(f["compliant"].astype(bool), 0.0))
    keys = ["from", "from_country", "to", "material"]
    return f.groupby(keys, sort=False, as_index=False)[
        ["quantity_t", "value_usd", "compliant_t"]
    ].sum()


def chain_sankey(
    flows: pd.DataFrame,
    title: str,
    periods: Iterable[str] | None = None,
    excluded: Iterable[str] = ("China",),
    buyer: str = BUYER_LABEL,
) -> go.Figure:
    """The Sankey figure of a flows table (optionally some periods only)."""
    return go.Figure(sankey_spec(flows, title, periods, excluded, buyer))


def sankey_spec(
    flows: pd.DataFrame,
    title: str,
    periods: Iterable[str] | None = None,
    excluded: Iterable[str] = ("China",),
    buyer: str = BUYER_LABEL,
) -> dict[str, Any]:
    """The figure as plotly's plain {data, layout} dict: written without plotly's validation
    (a report folder per scenario), checked once by `go.Figure` in the tests and the app."""
    links = _links(flows, periods) if len(flows) else pd.DataFrame()
    if links.empty:
        return {"data": [], "layout": {"title": {"text": f"{title}: no flows"}}}
    country = dict(zip(links["from"], links["from_country"], strict=False))
    names = list(dict.fromkeys([*links["from"], *links["to"]]))
    index = {n: i for i, n in enumerate(names)}
    bad = {c.lower() for c in excluded}
    labels, colours = [], []
    for n in names:
        if n == "buyer":
            labels.append(buyer)
            colours.append(BUYER_NODE)
            continue
        c = country.get(n, "")
        flag = " · excluded" if c.lower() in bad else ""
        labels.append(f"{n} ({c}{flag})" if c else n)
        colours.append(country_color(c) if c else OTHER_NODE)  # as in every other chart
    colour = {m: stable_pick(m, PALETTE) for m in dict.fromkeys(links["material"])}
    source = [index[n] for n in links["from"]]
    target = [index[n] for n in links["to"]]
    hover = [
        f"{m}: {q:,.1f} t, ${v / 1e6:,.2f} M customs value"
        + (f", {c:,.1f} t compliant" if c > 0 else "")
        for m, q, v, c in zip(
            links["material"],
            links["quantity_t"].astype(float),
            links["value_usd"].astype(float),
            links["compliant_t"].astype(float),
            strict=True,
        )
    ]
    traces = []
    for weight, visible in (("quantity_t", True), ("value_usd", False)):
        traces.append(
            dict(
                type="sankey",
                visible=visible,
                arrangement="snap",
                node={"label": labels, "color": colours, "pad": 14, "thickness": 14},
                link={
                    "source": source,
                    "target": target,
                    "value": links[weight].tolist(),
                    "color": [colour[m] for m in links["material"]],
                    "customdata": hover,
                    "hovertemplate": "%{source.label} -> %{target.label}<br>%{customdata}"
                    "<extra></extra>",
                },
            )
        )
    by = {"quantity_t": "tonnes", "value_usd": "customs value (USD)"}
    layout = dict(
        title={"text": f"{title}: weighted by tonnes"},
        font={"size": 12},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.12,
                "buttons": [
                    {
                        "label": f"by {by[w]}",
                        "method": "update",
                        "args": [
                            {"visible": [w == "quantity_t", w == "value_usd"]},
                            {"title": {"text": f"{title}: weighted by {by[w]}"}},
                        ],
                    }
                    for w in ("quantity_t", "value_usd")
                ],
            }
        ],
    )
    return {"data": traces, "layout": layout}


#: chain.html: plotly.js inside (opens without a network), then the figure's div.
PAGE = """<!doctype html>
<html>
<head>
    <meta charset="utf-8" />
    <title>{title}</title>
    <style>html, body {{height: 100%; margin: 0;}}</style>
</head>
<body>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script>{plotly_js}</script>
{figure}
</body>
</html>
"""


@functools.cache
def _plotly_js() -> str:
    """plotly.js as plotly ships it, read once per process (4.8 MB; a report folder per
    scenario would otherwise read and copy it each time)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def write_sankey_html(fig: go.Figure | dict[str, Any], path: Path) -> None:
    """A self-contained HTML file (plotly.js inside: it opens without a network), the same
    bytes for the same figure (a fixed element id)."""
    figure = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        config={"displaylogo": False},
        validate=False,
        div_id="chain-sankey",
    )
    layout = fig["layout"] if isinstance(fig, dict) else fig.to_dict()["layout"]
    title = (layout.get("title") or {}).get("text") or "Supply chain"
    page = PAGE.format(title=html.escape(str(title)), plotly_js=_plotly_js(), figure=figure)
    Path(path).write_text(page, encoding="utf-8")
