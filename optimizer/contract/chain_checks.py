"""Checks of the supply-chain sheets (contract v2): each `check_*` returns every instance found.

References to unknown suppliers, processes and materials, yields that are not
above 0, compliant offers from excluded countries, processes whose inputs can
never arrive (a warning) and loops of processes that make material from
nothing (an error naming the loop).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from optimizer.common.problems import Problem
from optimizer.contract.cells import did_you_mean
from optimizer.contract.chain import country_names, excluded_suppliers, is_buyer
from optimizer.contract.records import Inputs

#: Yields multiplying above 1 + this around a loop make material from nothing.
GAIN_TOLERANCE = 1e-9


def _process_key(r: Any) -> tuple[str, str]:
    return (r.supplier, r.process)


def check_chain_references(inputs: Inputs) -> list[Problem]:
    """Inputs and Coproducts name a Processes row; Routes name suppliers (or `buyer`)."""
    problems: list[Problem] = []
    processes = {_process_key(p) for p in inputs.processes}
    by_supplier: dict[str, list[str]] = defaultdict(list)
    for s, p in sorted(processes):
        by_supplier[s].append(p)
    suppliers = [s.supplier for s in inputs.suppliers]
    for rows in (inputs.process_inputs, inputs.coproducts):
        for r in rows:
            if not r.supplier or not r.process or (r.supplier, r.process) in processes:
                continue
            if r.supplier not in suppliers:
                continue  # reported by the supplier reference check
            known = by_supplier.get(r.supplier, [])
            hint = did_you_mean(r.process, known)
            listed = ", ".join(known) or "none"
            problems.append(
                Problem.at(
                    r.refs["process"],
                    f'process "{r.process}" of "{r.supplier}" is not in Processes{hint} '
                    f"(its processes: {listed})",
                )
            )
    names = set(suppliers)
    for route in inputs.routes:
        if route.to and not is_buyer(route.to) and route.to not in names:
            hint = did_you_mean(route.to, [*suppliers, "buyer"])
            problems.append(
                Problem.at(
                    route.refs["to"], f'"{route.to}" is neither a Suppliers row nor `buyer`{hint}'
                )
            )
    for supplier in inputs.suppliers:
        if inputs.routes and is_buyer(supplier.supplier):
            problems.append(
                Problem.at(
                    supplier.refs["supplier"], "a supplier may not be named `buyer` (Routes use it)"
                )
            )
    return problems


def check_chain_periods(inputs: Inputs) -> list[Problem]:
    """Periods on chain rows are Demand periods."""
    periods = inputs.periods
    rows: Iterable[Any] = (
        *inputs.processes,
        *inputs.process_inputs,
        *inputs.coproducts,
        *inputs.routes,
    )
    return [
        Problem.at(
            r.refs["period"], f'period "{r.period}" is not a Demand period ({", ".join(periods)})'
        )
        for r in rows
        if r.period is not None and r.period not in periods
    ]


def check_process_rows(inputs: Inputs) -> list[Problem]:
    """One output per process; yields above 0; a co-product is not the process's own output."""
    problems: list[Problem] = []
    output: dict[tuple[str, str], tuple[str, str]] = {}
    for p in inputs.processes:
        k = _process_key(p)
        if k in output and p.output and output[k][0] != p.output:
            problems.append(
                Problem.at(
                    p.refs["output"],
                    f'process "{p.process}" of "{p.supplier}" makes "{output[k][0]}" at '
                    f"{output[k][1]}: a process has one output in every period (name another "
                    "process for another output)",
                )
            )
        output.setdefault(k, (p.output, p.refs.get("output", "Processes")))
    for sheet, rows in (("Inputs", inputs.process_inputs), ("Coproducts", inputs.coproducts)):
        for r in rows:
            if not (r.t_per_t > 0) or not math.isfinite(r.t_per_t):
                problems.append(
                    Problem.at(
                        r.refs["t_per_t"],
                        f"t_per_t must be above 0 (found {r.t_per_t:g}); a zero "
                        f"{'input' if sheet == 'Inputs' else 'co-product'} is no row: delete it",
                    )
                )
    for r in inputs.coproducts:
        made = output.get(_process_key(r))
        if made and made[0] == r.material:
            problems.append(
                Problem.at(
                    r.refs["material"],
                    f'"{r.material}" is the output of "{r.process}": a co-product is something '
                    "else it makes",
                )
            )
    return problems


def check_compliant_offers(inputs: Inputs) -> list[Problem]:
    """A compliant offer cannot come from a supplier in an excluded stage country."""
    excluded = excluded_suppliers(inputs)
    country = {s.supplier: s.country for s in inputs.suppliers}
    return [
        Problem.at(
            o.refs["compliant"],
            f'compliant is TRUE, but "{o.supplier}" is in {country[o.supplier]}, an '
            "excluded_stage_countries country: its material cannot serve compliant demand",
        )
        for o in inputs.offers
        if o.compliant and o.supplier in excluded
    ]


def check_stage_countries(inputs: Inputs) -> list[Problem]:
    """Every name in excluded_stage_countries is a Countries row (or the setting is `none`)."""
    ref = inputs.settings.refs.get("excluded_stage_countries")
    text = inputs.settings.excluded_stage_countries.strip()
    if ref is None or text.lower() == "none":
        return []
    known = country_names(inputs)
    problems = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if name.lower() not in known:
            hint = did_you_mean(name, list(known.values()))
            problems.append(
                Problem.at(
                    ref,
                    f'excluded_stage_countries names "{name}", which is not in Countries{hint} '
                    "(names match Countries rows; there are no aliases)",
                )
            )
    return problems


def check_stockpile_limits(inputs: Inputs) -> list[Problem]:
    """Stockpile max_t is at least the reserve."""
    return [
        Problem.at(s.refs["max_t"], f"max_t {s.max_t:g} t is below reserve_t {s.reserve_t:g} t")
        for s in inputs.stockpile
        if s.max_t is not None and s.max_t < s.reserve_t
    ]


# --------------------------------------------------------------------------- the network


def _suppliers_of(inputs: Inputs) -> dict[str, set[str]]:
    """material -> facilities that can ship it (an offer, an output or a co-product)."""
    makers: dict[str, set[str]] = defaultdict(set)
    for o in inputs.offers:
        makers[o.material].add(o.supplier)
    for p in inputs.processes:
        makers[p.output].add(p.supplier)
    for c in inputs.coproducts:
        makers[c.material].add(c.supplier)
    return makers


def _routes(
    inputs: Inputs,
) -> tuple[dict[tuple[str, str], set[str]], dict[tuple[str, str], set[str]]]:
    """Routes rows by (material, to) -> senders and by (material, from) -> receivers."""
    into: dict[tuple[str, str], set[str]] = defaultdict(set)
    out_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in inputs.routes:
        to = "buyer" if is_buyer(r.to) else r.to
        into[(r.material, to)].add(r.from_supplier)
        out_of[(r.material, r.from_supplier)].add(to)
    return into, out_of


def check_unreachable_inputs(inputs: Inputs) -> list[Problem]:
    """Warn about processes whose inputs can never arrive (nothing offers, makes or ships them).

    A worklist over what can ship what: a process runs once each input can arrive (its own
    offer or output, a route from a facility that can ship it, or, for a material without
    Routes rows, any facility that can); then its outputs can ship from its facility, which
    may let the processes it can reach run. Linear in the size of the network.
    """
    if not inputs.processes:
        return []
    routed = {r.material for r in inputs.routes}
    into, out_of = _routes(inputs)
    needs: dict[tuple[str, str], set[str]] = defaultdict(set)
    first_ref: dict[tuple[str, str, str], str] = {}
    users: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)  # (m, facility)
    users_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in inputs.process_inputs:
        key = _process_key(r)
        if r.material not in needs[key]:
            users[(r.material, r.supplier)].append(key)
            users_of[r.material].append(key)
        needs[key].add(r.material)
        first_ref.setdefault((r.supplier, r.process, r.material), r.refs["material"])
    outputs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p in inputs.processes:
        outputs[_process_key(p)].add(p.output)
    for c in inputs.coproducts:
        outputs[_process_key(c)].add(c.material)
    available: dict[str, set[str]] = defaultdict(set)

    def arrives(m: str, at: str) -> bool:
        ships = available.get(m, set())
        if at in ships:
            return True
        if m not in routed:
            return bool(ships)
        return any(f in ships for f in into.get((m, at), ()))

    runs: set[tuple[str, str]] = set()
    queue: list[tuple[str, str]] = [k for k in outputs if not needs.get(k)]

    def can_ship(m: str, f: str) -> None:
        if f in available[m]:
            return
        available[m].add(f)
        if m in routed:
            for to in (f, *out_of.get((m, f), ())):
                queue.extend(users.get((m, to), ()))
        else:
            queue.extend(users_of.get(m, ()))
        users_of_done = users_of if m not in routed else None
        if users_of_done is not None:
            users_of[m] = []  # every consumer was queued once: the first maker decides

    for o in inputs.offers:
        can_ship(o.material, o.supplier)
    while queue:
        key = queue.pop()
        if key in runs or key not in outputs:
            continue
        if all(arrives(m, key[0]) for m in needs.get(key, ())):
            runs.add(key)
            for m in outputs[key]:
                can_ship(m, key[0])
    problems = []
    for key in sorted(outputs):
        if key in runs:
            continue
        for m in sorted(m for m in needs.get(key, ()) if not arrives(m, key[0])):
            problems.append(
                Problem.at(
                    first_ref[(key[0], key[1], m)],
                    f'input "{m}" of "{key[1]}" at "{key[0]}" can never arrive: no offer, '
                    "process or route supplies it there, so the process never runs",
                    "warning",
                )
            )
    return problems


Edge = tuple[tuple[str, str], tuple[str, str], float, str, str]


def check_gain_loops(inputs: Inputs) -> list[Problem]:
    """A loop of processes whose yields multiply above 1 makes material from nothing: an error.

    Nodes are (facility, material) pairs; a process at facility n turning input i
    (t_per_t a) into output o (or co-product c, t_per_t k) is an edge from every
    (f, i) that can ship i to n, to (n, o) with gain 1/a (or k/a). Loops live in
    the graph's strongly connected components (none in a chain that only flows
    downstream); in each, a loop whose gains multiply above 1 is a negative cycle of
    -log(gain), found by Bellman-Ford; the message names the processes around it.
    """
    if not inputs.processes or not inputs.process_inputs:
        return []
    makers = _suppliers_of(inputs)
    routed = {r.material for r in inputs.routes}
    into, _ = _routes(inputs)
    outputs: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for p in inputs.processes:
        if (p.output, 1.0) not in outputs[_process_key(p)]:
            outputs[_process_key(p)].append((p.output, 1.0))
    for c in inputs.coproducts:
        if c.t_per_t > 0:
            outputs[_process_key(c)].append((c.material, c.t_per_t))
    edges: list[Edge] = []
    for r in inputs.process_inputs:
        if not (r.t_per_t > 0 and math.isfinite(r.t_per_t)):
            continue
        senders = {r.supplier} | (
            into.get((r.material, r.supplier), set())
            if r.material in routed
            else makers.get(r.material, set())
        )
        senders &= makers.get(r.material, set()) | {r.supplier}
        for out, k in outputs.get(_process_key(r), []):
            gain = k / r.t_per_t
            for f in senders:
                edges.append(
                    ((f, r.material), (r.supplier, out), gain, r.process, r.refs["t_per_t"])
                )
    problems: list[Problem] = []
    for component in _cyclic_components(edges):
        problems += _negative_cycles(component)
    return problems[:1]


def _cyclic_components(edges: list[Edge]) -> list[list[Edge]]:
    """The edges inside each strongly connected component that can hold a loop (Tarjan)."""
    graph: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for a, b, *_ in edges:
        graph[a].append(b)
    index: dict[tuple[str, str], int] = {}
    low: dict[tuple[str, str], int] = {}
    on_stack: set[tuple[str, str]] = set()
    stack: list[tuple[str, str]] = []
    component: dict[tuple[str, str], int] = {}
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if i < len(successors):
                work.append((node, i + 1))
                nxt = successors[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = index[node]
                    if member == node:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    groups: dict[int, list[Edge]] = defaultdict(list)
    for e in edges:
        if component.get(e[0]) == component.get(e[1]):
            groups[component[e[0]]].append(e)
    return list(groups.values())


def _negative_cycles(edges: list[Edge]) -> list[Problem]:
    nodes = sorted({e[0] for e in edges} | {e[1] for e in edges})
    dist = dict.fromkeys(nodes, 0.0)
    pred: dict[tuple[str, str], int] = {}
    weights = [-math.log(e[2]) for e in edges]
    last = None
    for _ in range(len(nodes)):
        last = None
        for i, (a, b, _g, _p, _ref) in enumerate(edges):
            if dist[a] + weights[i] < dist[b] - GAIN_TOLERANCE:
                dist[b] = dist[a] + weights[i]
                pred[b] = i
                last = b
        if last is None:
            return []
    assert last is not None
    node = last
    for _ in range(len(nodes)):  # step back onto the cycle itself
        node = edges[pred[node]][0]
    cycle: list[int] = []
    at = node
    while True:
        i = pred[at]
        cycle.append(i)
        at = edges[i][0]
        if at == node or len(cycle) > len(nodes):
            break
    cycle.reverse()
    gain = math.prod(edges[i][2] for i in cycle)
    steps = " -> ".join(
        f'"{edges[i][3]}" at "{edges[i][1][0]}" ({edges[i][0][1]} -> {edges[i][1][1]}, '
        f"x{edges[i][2]:.4g})"
        for i in cycle
    )
    return [
        Problem.at(
            edges[cycle[0]][4],
            f"a loop of processes makes material from nothing: {steps}; its yields multiply "
            f"to {gain:.4g} > 1 around the loop: check the t_per_t values",
        )
    ]


def check_chain(inputs: Inputs) -> list[Problem]:
    """Every supply-chain check, in the order a planner would fix them."""
    return [
        *check_chain_references(inputs),
        *check_chain_periods(inputs),
        *check_process_rows(inputs),
        *check_compliant_offers(inputs),
        *check_stage_countries(inputs),
        *check_stockpile_limits(inputs),
        *check_gain_loops(inputs),
        *check_unreachable_inputs(inputs),
    ]
