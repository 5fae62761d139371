"""Contract v2's supply-chain sheets: Processes, Inputs, Coproducts, Routes.

All four are optional: a workbook without them is a v1 workbook and solves
exactly as before. With them, a facility (a Suppliers row) turns inputs into an
output, and origin is tracked at every stage (see docs/model.md, "Supply
chains"). The settled details are in the sheet descriptions below, which the
generated docs (docs/workbook.md) print as they are.
"""

from __future__ import annotations

from typing import Final

from optimizer.contract.spec import ColumnSpec, Kind, SheetSpec

#: The `to` of a route that delivers to the buyer (matched case-insensitively).
BUYER: Final[str] = "buyer"

CHAIN_SHEETS: Final[tuple[SheetSpec, ...]] = (
    SheetSpec(
        "Processes",
        False,
        "What a facility makes: a process turns its Inputs into one output (and its "
        "Coproducts). A process with no Inputs rows applying in a period is a source in that "
        "period (a mine, or a plant whose feed is not modelled): it produces from nothing, "
        "limited by its capacity, at its cost per kg. A period row overrides the blank-period "
        "row of the same supplier and process in that period, as Offers do.",
        (
            ColumnSpec("supplier", Kind.TEXT, True, lookup="Suppliers", description="Facility."),
            ColumnSpec("process", Kind.TEXT, True, description="Process name, e.g. separate."),
            ColumnSpec(
                "output",
                Kind.TEXT,
                True,
                lookup="Materials",
                description="The material it makes (its main output; the same in every period).",
            ),
            ColumnSpec(
                "capacity_t",
                Kind.NUMBER,
                unit="t of output per period",
                description="Most output per period (blank = only the supplier's capacity_t, "
                "which its offers and processes share).",
            ),
            ColumnSpec(
                "cost_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg of output",
                description="Processing or tolling fee (for a source: the price of its output).",
            ),
            ColumnSpec(
                "customs_value_usd_per_kg",
                Kind.NUMBER,
                unit="USD/kg of output",
                description="Dutiable value per kg of output entering the importer country "
                "(blank = cost_usd_per_kg plus, for each input, t_per_t x that input's Materials "
                "reference_price_usd_per_kg).",
            ),
            ColumnSpec(
                "period",
                Kind.PERIOD,
                description="Blank = every period without a specific row for the same supplier "
                "and process.",
            ),
            ColumnSpec(
                "stage",
                Kind.TEXT,
                description="Stage label in origin reports, e.g. separation (blank = the output's "
                "Materials stage, else the process name).",
            ),
            ColumnSpec(
                "emissions_kg_co2e_per_kg",
                Kind.NUMBER,
                unit="kg CO2e/kg of output",
                description="Gate-to-gate greenhouse-gas intensity of this process alone (GWP100, "
                "per kg of its main output; its inputs' own footprints come with them). Blank = "
                "unknown (as for Offers).",
            ),
        ),
        key=("supplier", "process", "period"),
    ),
    SheetSpec(
        "Inputs",
        False,
        "What a process consumes per tonne of its output. A facility's own offers and own "
        "outputs feed its processes without a route; other facilities' material arrives along "
        "Routes (or, for a material with no Routes rows, from every producer or seller of it).",
        (
            ColumnSpec("supplier", Kind.TEXT, True, lookup="Suppliers", description="Facility."),
            ColumnSpec("process", Kind.TEXT, True, description="Process (a Processes row)."),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Input."),
            ColumnSpec(
                "t_per_t",
                Kind.NUMBER,
                True,
                unit="t per t of output",
                description="Tonnes of this input per tonne of output (1 / yield); above 0.",
            ),
            ColumnSpec(
                "period",
                Kind.PERIOD,
                description="Blank = every period without a specific row for the same key.",
            ),
        ),
        key=("supplier", "process", "material", "period"),
    ),
    SheetSpec(
        "Coproducts",
        False,
        "What a process makes besides its output, per tonne of output (a separator fed one "
        "concentrate gets NdPr, Dy and Tb in ratios set by the feed). A co-product may be used, "
        "sold to the buyer or discarded at no cost; co-products do not count against capacity.",
        (
            ColumnSpec("supplier", Kind.TEXT, True, lookup="Suppliers", description="Facility."),
            ColumnSpec("process", Kind.TEXT, True, description="Process (a Processes row)."),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Co-product."),
            ColumnSpec(
                "t_per_t",
                Kind.NUMBER,
                True,
                unit="t per t of output",
                description="Tonnes of co-product per tonne of output; above 0.",
            ),
            ColumnSpec(
                "period",
                Kind.PERIOD,
                description="Blank = every period without a specific row for the same key.",
            ),
        ),
        key=("supplier", "process", "material", "period"),
    ),
    SheetSpec(
        "Routes",
        False,
        "Who may ship what to whom. A material with no Routes rows (in any period) may go from "
        "every producer or seller of it to every process that uses it and to the buyer, at no "
        "extra freight; a material with Routes rows travels only on the rows that apply in the "
        "period, deliveries to the buyer included. Facilities do not re-ship what they receive, "
        "so the shipping facility's country is the country of last transformation.",
        (
            ColumnSpec(
                "from_supplier",
                Kind.TEXT,
                True,
                lookup="Suppliers",
                description="Shipping facility (its offers and its processes' outputs).",
            ),
            ColumnSpec(
                "to",
                Kind.TEXT,
                True,
                description="Receiving facility (a Suppliers row), or `buyer`.",
            ),
            ColumnSpec("material", Kind.TEXT, True, lookup="Materials", description="Material."),
            ColumnSpec(
                "freight_usd_per_kg",
                Kind.NUMBER,
                default=0.0,
                unit="USD/kg",
                description="Freight on this route (an offer delivered to the buyer pays its own "
                "freight plus this).",
            ),
            ColumnSpec(
                "max_t",
                Kind.NUMBER,
                unit="t per period",
                description="Most tonnes on the route per period (blank = no limit).",
            ),
            ColumnSpec(
                "period",
                Kind.PERIOD,
                description="Blank = every period without a specific row for the same key.",
            ),
        ),
        key=("from_supplier", "to", "material", "period"),
    ),
)
