r"""Origin by stage: where every tonne the buyer receives was mined, separated, made...

Attribution is proportional through the solved flows, period by period (no
facility holds stock between periods):

- an offer's tonnes have their seller's country at the offered material's
  stage (Materials `stage`, else `offer`), and an `upstream (not modelled)`
  stage of country `unknown`: the workbook does not model its chain (an offer
  flagged compliant says `unknown (declared compliant)`);
- what arrives at a facility of a material is a mix of the shipments that
  brought it, weighted by tonnes; a compliant activity draws only on the
  compliant shipments (the LP guarantees it), the others on the rest of the
  arrivals plus the compliant tonnes the compliant activities left;
- a process's output (and each co-product) has the facility's country at the
  process's stage, and at every upstream stage the mix of its inputs' origins
  at that stage, weighted by the tonnes of each input consumed that went
  through that stage (inputs that never did are left out of that stage's mix).

So origin_by_stage(m, t, stage, country) = sum over arrivals at the buyer of
m in t of tonnes x the share of that country at that stage. Loops of
processes are resolved by repeating the propagation until it settles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import pandas as pd

from optimizer.model.chain_data import BUYER, COMPLIANT, OFFER, Act, ChainData, Ship
from optimizer.model.data import ModelData
from optimizer.model.solution import EPS_T, Solution

#: stage -> country -> share of the tonnes (shares of a stage add up to 1)
Mix = dict[str, dict[str, float]]
#: (node, shipments arriving there, t_per_t of the activity's input) of an activity
Feed = tuple[tuple[str, str, str], tuple[Ship, ...], float]
UPSTREAM = "upstream (not modelled)"
UNKNOWN = "unknown"
DECLARED = "unknown (declared compliant)"
#: Passes of the propagation before giving up on a loop (each pass settles one more stage).
MAX_PASSES = 60


def offer_mix(chain: ChainData | None, material: str, country: str, compliant: bool) -> Mix:
    """The origin of offered tonnes: the seller at the material's stage, upstream unknown."""
    stage = (chain.material_stage.get(material) if chain else "") or "offer"
    return {UPSTREAM: {DECLARED if compliant else UNKNOWN: 1.0}, stage: {country: 1.0}}


def _blend(parts: list[tuple[float, Mix]]) -> Mix:
    """Mass-weighted mix per stage, over the parts that went through that stage."""
    weight: dict[str, float] = defaultdict(float)
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for q, mix in parts:
        if q <= 0:
            continue
        for stage, shares in mix.items():
            weight[stage] += q
            for country, s in shares.items():
                acc[stage][country] += q * s
    return {
        stage: {c: v / weight[stage] for c, v in shares.items()} for stage, shares in acc.items()
    }


def _same(a: Mix, b: Mix) -> bool:
    if a.keys() != b.keys():
        return False
    for stage, shares in a.items():
        other = b[stage]
        if shares.keys() != other.keys():
            return False
        if any(abs(v - other[c]) > 1e-12 for c, v in shares.items()):
            return False
    return True


def activity_links(chain: ChainData) -> tuple[dict[Act, list[Ship]], dict[Act, list[Feed]]]:
    """Per activity: the shipments that carry its outputs away, and what it consumes (node,
    shipments arriving there, t per t): the graph both attributions walk."""
    lanes_of: dict[Act, list[Ship]] = defaultdict(list)
    for _, act, out in chain.lanes.values():
        lanes_of[act].extend(out)
    nodes_of: dict[Act, list[Feed]] = defaultdict(list)
    for node, (arriving, terms) in chain.consume.items():
        for k, a in terms:
            nodes_of[k].append((node, arriving, a))
    return lanes_of, nodes_of


def ship_mixes(data: ModelData, sol: Solution) -> tuple[dict[Ship, Mix], dict[Act, Mix]]:
    """The origin mix of every shipment and activity with tonnes, by proportional attribution."""
    chain = data.chain
    if chain is None:
        return {}, {}
    f = sol.chain.get("f", {})
    y = sol.chain.get("y", {})
    acts = {a: q for a, q in y.items() if q > EPS_T}
    ships = {e: q for e, q in f.items() if q > EPS_T}
    ship_mix: dict[Ship, Mix] = {}
    for e in ships:
        if e[1] == OFFER:
            d = chain.ships[e]
            ship_mix[e] = offer_mix(chain, e[2], d.country, d.grade == COMPLIANT)
    lanes_of, nodes_of = activity_links(chain)
    act_mix: dict[Act, Mix] = {}
    for _ in range(MAX_PASSES):
        changed = False
        for act in acts:
            mix = _activity_mix(chain, act, nodes_of[act], ships, ship_mix, acts)
            if act not in act_mix or not _same(act_mix[act], mix):
                act_mix[act] = mix
                changed = True
                for e in lanes_of[act]:
                    if e in ships:
                        ship_mix[e] = mix
        if not changed:
            break
    return ship_mix, act_mix


def _activity_mix(
    chain: ChainData,
    act: Act,
    feeds: list[Feed],
    ships: Mapping[Ship, float],
    ship_mix: Mapping[Ship, Mix],
    acts: Mapping[Act, float],
) -> Mix:
    a = chain.acts[act]
    parts = [
        (t_per_t * acts[act], _pool(chain, node, act[3], arriving, ships, ship_mix, acts))
        for node, arriving, t_per_t in feeds
    ]
    upstream = _blend(parts)
    upstream.pop(a.stage, None)  # the process's own stage is its facility
    upstream[a.stage] = {a.country: 1.0}
    return upstream


def _pool(
    chain: ChainData,
    node: tuple[str, str, str],
    grade: str,
    arriving: tuple[Ship, ...],
    ships: Mapping[Ship, float],
    ship_mix: Mapping[Ship, Mix],
    acts: Mapping[Act, float],
) -> Mix:
    """What an activity of `grade` draws on at a node: compliant arrivals for a compliant one;
    the other arrivals and the compliant tonnes left over for the others."""
    compliant = [
        (ships[e], ship_mix.get(e, {})) for e in arriving if e in ships and e[5] == COMPLIANT
    ]
    if grade == COMPLIANT:
        return _blend(compliant)
    others = [(ships[e], ship_mix.get(e, {})) for e in arriving if e in ships and e[5] != COMPLIANT]
    used_c = sum(a * acts.get(k, 0.0) for k, a in chain.consume_compliant.get(node, ((), ()))[1])
    left = sum(q for q, _ in compliant) - used_c
    if left > EPS_T:
        others.append((left, _blend(compliant)))
    return _blend(others)


ORIGIN_COLUMNS = ["scenario", "material", "period", "stage", "country", "quantity_t", "share"]


def origin_by_stage_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Per material and period the buyer receives: tonnes by stage and country (see module)."""
    ship_mix, _ = ship_mixes(data, sol)
    chain = data.chain
    arrivals: dict[tuple[str, str], list[tuple[float, Mix]]] = defaultdict(list)
    for b, q in sol.x.items():
        if q > EPS_T:
            d = data.buys[b]
            arrivals[(b[1], b[2])].append((q, offer_mix(chain, b[1], d.country, d.compliant)))
    for e, q in sol.chain.get("f", {}).items():
        if q > EPS_T and e[3] == BUYER:
            arrivals[(e[2], e[4])].append((q, ship_mix.get(e, {})))
    rank = _stage_rank(data)
    rows = []
    materials = {m: i for i, m in enumerate(data.materials)}
    periods = {t: i for i, t in enumerate(data.periods)}
    for (m, t), parts in sorted(
        arrivals.items(), key=lambda kv: (materials[kv[0][0]], periods[kv[0][1]])
    ):
        total = sum(q for q, _ in parts)
        acc: dict[tuple[str, str], float] = defaultdict(float)
        for q, mix in parts:
            for stage, shares in mix.items():
                for country, share in shares.items():
                    acc[(stage, country)] += q * share
        for (stage, country), q in sorted(
            acc.items(), key=lambda kv: (rank.get(kv[0][0], 50), kv[0][0], -kv[1], kv[0][1])
        ):
            if q > EPS_T:
                rows.append(
                    {
                        "scenario": scenario,
                        "material": m,
                        "period": t,
                        "stage": stage,
                        "country": country,
                        "quantity_t": q,
                        "share": q / total if total else 0.0,
                    }
                )
    return pd.DataFrame(rows, columns=ORIGIN_COLUMNS)


def _stage_rank(data: ModelData) -> dict[str, int]:
    """Upstream first: a stage's rank is the longest chain of processes that leads to it."""
    rank = {UPSTREAM: -1}
    chain = data.chain
    if chain is None:
        return rank
    depth: dict[tuple[str, str], int] = {}
    feeds: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for arriving, terms in chain.consume.values():
        for e in arriving:
            if e[1] != OFFER:
                for act, _ in terms:
                    feeds[(act[0], act[1])].add((e[0], e[1]))
    processes = {(a[0], a[1]) for a in chain.acts}
    for _ in range(len(processes) + 1):
        for proc in processes:
            depth[proc] = 1 + max((depth.get(u, 0) for u in feeds[proc]), default=-1)
    for proc, dp in depth.items():
        stage = chain.stage_of.get(proc, proc[1])
        rank[stage] = max(rank.get(stage, 0), min(dp, 40))
    return rank
