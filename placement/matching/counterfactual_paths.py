"""Residual distances for the counterfactuals of placed trainees, for everyone at once.

A placed trainee's what-if needs ``d(x, s0)``, the shortest distance from a slot ``x`` to
their own slot ``s0`` in the folded residual graph (:mod:`placement.matching.residual`),
for a few ``x`` each. One Dijkstra per distinct ``s0`` is exact but, at 145,000 trainees,
tens of thousands of them. Two cheap passes decide most pairs instead:

- *Through the source and the sink.* A shortest path from ``x`` to ``s0`` either passes
  through ``S`` or ``T`` or is a chain of moves between slots, so
  ``d(x, s0) <= min(d(x, T) + d(T, s0), d(x, S) + d(S, s0))`` (an upper bound, equal
  to ``d`` whenever a shortest path passes through ``S`` or ``T``), from four Dijkstras
  in all (to and from ``S`` and ``T``).
- *Landmarks and potentials.* By the triangle inequality through ``S`` and ``T``, and by
  the optimal potentials ``p`` (every reduced cost is ``>= 0``):
  ``d(x, s0) >= max(p(s0) - p(x), d(x, T) - d(s0, T), d(T, s0) - d(T, x), ...)``.

A what-if whose answer is the same for every distance between the two bounds is settled
by them: the option least in ``q`` is certainly unique, or certainly not a better choice.
The rest are settled exactly: Dijkstras to their ``s0`` on the reduced costs, in
batches, each cut off at the largest distance that could still matter to its trainees
(``limit``, ties included), until a work budget is spent; what is left gets no
counterfactual. The budget counts the nodes the searches reach (deterministic, unlike a
clock), so the same run always gives the same explanations. Options still tied on ``q``
with exact distances go to the draws (:mod:`placement.matching.lexicographic`), and so
does the "one more placed" case when its least ``q'(y) + d(y, T)`` is tied (those
distances are exact from the passes above).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .lexicographic import LexPaths, Option
from .residual import SlotGraph

# Nodes reached (times the mean number of arcs per node) the exact Dijkstras of one batch
# of what-ifs may spend (a round of choices, see placement.matching.counterfactuals).
WORK_BUDGET = 10_000_000
# Cells of the distance rows of one batch of Dijkstras (bounds the memory of a batch).
_BATCH_CELLS = 2**22
# Cells of the kept distance rows (float32: 64 MB).
_CACHE_CELLS = 2**24


class ResidualDistances:
    """The folded residual graph with reduced costs (parallel arcs keep the cheapest) and
    the distances to and from the source and the sink, in real (not reduced) costs."""

    def __init__(self, graph: SlotGraph, pot: np.ndarray) -> None:
        n = graph.n_s + 2
        self.n_s, self.n, self.pot = graph.n_s, n, pot
        reduced = graph.weight + pot[graph.tail] - pot[graph.head]
        key = graph.tail * n + graph.head
        order = np.argsort(key, kind="stable")
        key = key[order]
        if len(key):
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            w = np.minimum.reduceat(reduced[order], starts)
            key = key[starts]
        else:
            w = np.zeros(0)
        u, v = key // n, key % n
        self.arcs = max(len(key), 1)
        self.reverse = _matrix(n, v, u, w)
        src, snk = graph.source, graph.sink
        chain = (u < graph.n_s) & (v < graph.n_s)
        self.reverse_moves = _matrix(n, v[chain], u[chain], w[chain])
        self.source, self.sink = src, snk
        forward = _matrix(n, u, v, w)
        keep = (u != src) & (v != src)
        self.to_source = self._to(self.reverse, src)
        self.to_sink = self._to(_matrix(n, v[keep], u[keep], w[keep]), snk)  # avoiding S
        self.to_sink_any = self._to(self.reverse, snk)
        self.from_source = self._from(forward, src)
        self.from_sink = self._from(forward, snk)
        self.work = 0
        self._cache: dict[int, tuple[float, np.ndarray]] = {}

    def _to(self, reverse: csr_matrix, target: int) -> np.ndarray:
        d = np.atleast_2d(dijkstra(reverse, directed=True, indices=[target]))[0]
        return d - self.pot + self.pot[target]

    def _from(self, forward: csr_matrix, origin: int) -> np.ndarray:
        d = np.atleast_2d(dijkstra(forward, directed=True, indices=[origin]))[0]
        return d - self.pot[origin] + self.pot

    def to(self, targets: list[int]) -> np.ndarray:
        """Exact distances from every node to each target (rows = targets), no limit."""
        d = np.atleast_2d(dijkstra(self.reverse, directed=True, indices=targets))
        return d - self.pot[None, :] + self.pot[np.asarray(targets)][:, None]

    def bounds(self, x: np.ndarray, s0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of ``d(x, s0)`` for pairs of slots (module docstring);
        both 0 where ``x == s0``."""
        to_t, from_t = self.to_sink_any, self.from_sink
        to_s, from_s = self.to_source, self.from_source
        with np.errstate(invalid="ignore"):
            upper = np.minimum(to_t[x] + from_t[s0], to_s[x] + from_s[s0])
            lower = self.pot[s0] - self.pot[x]
            for a, b in ((to_t[x], to_t[s0]), (from_t[s0], from_t[x]),
                         (to_s[x], to_s[s0]), (from_s[s0], from_s[x])):  # fmt: skip
                lower = np.fmax(lower, a - b)  # inf - inf is NaN: no bound from it
        same = x == s0
        lower[same] = 0.0
        upper[same] = 0.0
        return lower, upper

    def chain_distances(
        self, targets: np.ndarray, x: np.ndarray, need: np.ndarray, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """For pairs ``(x, target)``: the distance along chains of moves only (avoiding
        ``S`` and ``T``), exact wherever it is at most ``need`` (real costs; ``inf`` beyond),
        so that ``d(x, target) = min(upper, chain)`` wherever ``d <= need``; and whether
        the pair's search ran. One reverse Dijkstra per distinct target, cut off at its
        largest need, cheapest first, in batches, until ``budget`` is spent."""
        out = np.full(len(x), np.inf)
        done = np.zeros(len(x), dtype=bool)
        if len(x) == 0:
            return out, done
        # Reduced distances: d(x, s0) < need  <=>  reduced < need + p(x) - p(s0).
        reduced = need + self.pot[x] - self.pot[targets]
        uniq, inv = np.unique(targets, return_inverse=True)
        limit = np.full(len(uniq), -np.inf)
        np.maximum.at(limit, inv, reduced)
        by_target = np.argsort(inv, kind="stable")
        cuts = np.searchsorted(inv[by_target], np.arange(len(uniq) + 1))
        order = np.lexsort((uniq, limit))
        # The others cannot be at or below their need: settled, beyond it (inf).
        done[limit[inv] < 0] = True
        order = order[limit[order] >= 0]
        slot = np.full(len(uniq), -1, dtype=np.int64)
        per_node = max(1, self.arcs // self.n)
        batch = max(1, _BATCH_CELLS // self.n)
        cached = np.array([self._cache.get(int(uniq[i]), (-1.0, None))[0] >= limit[i]
                           for i in order.tolist()], dtype=bool)  # fmt: skip
        for i in order[cached].tolist():
            pairs = by_target[cuts[i] : cuts[i + 1]]
            row = self._cache[int(uniq[i])][1]
            out[pairs] = row[x[pairs]] - self.pot[x[pairs]] + self.pot[targets[pairs]]
            done[pairs] = True
        order = order[~cached]
        spent, start, size = 0, 0, batch
        while start < len(order) and spent < budget:
            ids = order[start : start + size]
            # One batch spans limits within a factor of two (the cost grows with them).
            ids = ids[limit[ids] <= 2 * limit[ids[0]] + 1]
            start += len(ids)
            tg = uniq[ids]
            top = float(limit[ids].max())
            d = np.atleast_2d(dijkstra(self.reverse_moves, directed=True, indices=tg, limit=top))
            reached = np.isfinite(d).sum(axis=1)
            work = int(reached.sum()) * per_node + len(ids) * self.n // 8
            spent += work
            self.work += work
            # Searches cost more as their limits grow: fewer per batch, so that the last
            # one overshoots the budget by little.
            per_row = max(1, work // len(ids))
            size = int(min(batch, max(1, (budget - spent) // per_row)))
            slot[ids] = np.arange(len(ids))
            pairs = np.concatenate([by_target[cuts[i] : cuts[i + 1]] for i in ids.tolist()])
            row = slot[inv[pairs]]
            out[pairs] = d[row, x[pairs]] - self.pot[x[pairs]] + self.pot[targets[pairs]]
            done[pairs] = True
            self._keep(tg, d, reached, top)
        return out, done

    def _keep(self, tg: np.ndarray, d: np.ndarray, reached: np.ndarray, limit: float) -> None:
        """Keep the rows of the searches that reached far (a later round of what-ifs often
        asks for the same slots), in float32 (exact: integers below 2**24), within a cap."""
        if limit >= 2**24:
            return
        room = _CACHE_CELLS // self.n - len(self._cache)
        for i in np.flatnonzero(reached > self.n // 64).tolist()[: max(room, 0)]:
            self._cache[int(tg[i])] = (limit, d[i].astype(np.float32))


def _matrix(n: int, rows: np.ndarray, cols: np.ndarray, w: np.ndarray) -> csr_matrix:
    return csr_matrix((w, (rows, cols)), shape=(n, n))


def _group_starts(j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts of the runs of equal values in sorted ``j``, and each position's run."""
    new = np.r_[True, j[1:] != j[:-1]] if len(j) else np.zeros(0, dtype=bool)
    return np.flatnonzero(new), np.cumsum(new) - 1


class PlacedMoves:
    """The what-ifs of placed trainees (one scenario each), settled by the bounds, then
    exactly (module docstring), ties on ``q`` by the draws (``lex``). Per scenario: ``q0``
    and ``d0`` their pair's cost and draw, ``s0`` their slot (-1: not placed, ignored),
    ``kind`` (0 for a move up the list), ``x``, ``rank`` and ``dx`` the choice in question
    and its draw."""

    def __init__(
        self,
        g: ResidualDistances,
        lex: LexPaths,
        held: tuple[np.ndarray, np.ndarray, np.ndarray],
        kind: np.ndarray,
        choice: tuple[np.ndarray, np.ndarray, np.ndarray],
        free: np.ndarray,
        budget: int = WORK_BUDGET,
    ) -> None:
        q0, d0, s0 = held
        x, rank, dx = choice
        self.g, self.lex, self.q0, self.s0 = g, lex, q0.astype(np.float64), s0
        self.d0, self.x, self.rank, self.dx = d0, x, rank, dx
        self.budget = budget
        self.rank_j = np.flatnonzero((s0 >= 0) & (kind == 0) & (free[x] > 0))
        self.prof = (s0 >= 0) & (kind > 0)
        self.q_m = np.zeros((len(q0), 1))
        self.sc = self.xs = self.xd = np.zeros(0, dtype=np.int64)
        self.xq = np.zeros(0)
        self.better = np.zeros(0, dtype=bool)
        self._done = False
        self._fixed: tuple[np.ndarray, np.ndarray] | None = None
        self.rank_d = self.pair_d = np.zeros(0)

    def rank_costs(self, q_m: np.ndarray) -> None:
        """``q_m[j, m]``: the cost of scenario ``j``'s choice when moved up to rank ``m``."""
        self.q_m = q_m

    def pairs(
        self, sc: np.ndarray, xs: np.ndarray, xq: np.ndarray, xd: np.ndarray, better: np.ndarray
    ) -> None:
        """Every scenario's pairs after its change (sorted by scenario), their costs and
        draws, and whether each is a choice above the trainee's outcome."""
        keep = self.prof[sc]
        self.pos = np.flatnonzero(keep)
        self.sc, self.xs, self.xq, self.xd = sc[keep], xs[keep], xq[keep], xd[keep]
        self.better = better[keep] & (self.xs != self.s0[self.sc])
        self._fixed = None

    # --- a move up the list ----------------------------------------------------------

    def _best_move(self, js: np.ndarray, d: np.ndarray, strict: bool = True) -> np.ndarray:
        """The largest rank ``m`` (< the choice's rank) with ``q_m + d - q0 < 0`` (``<= 0``
        unless ``strict``), else 0."""
        m = np.arange(self.q_m.shape[1])
        ok = (m[None, :] >= 1) & (m[None, :] < self.rank[js][:, None])
        with np.errstate(invalid="ignore"):
            gain = self.q_m[js] + d[:, None] - self.q0[js][:, None]
            ok &= (gain < 0) if strict else (gain <= 0)
        return np.where(ok, m[None, :], 0).max(axis=1) if len(js) else np.zeros(0, np.int64)

    def _rank_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per move up the list: the best move sure under the upper bound of ``d``, the
        best one possible (a tie included) under the lower bound, and the upper bound."""
        js = self.rank_j
        lower, upper = self.g.bounds(self.x[js], self.s0[js])
        return js, self._best_move(js, upper), self._best_move(js, lower, strict=False), upper

    def _rank_ties(self, js: np.ndarray, d: np.ndarray, strict: np.ndarray) -> np.ndarray:
        """The moves with exact ``d``: ``strict``, or a larger ``m`` where
        ``q_m + d - q0 == 0`` when the draws decide for the choice."""
        best = strict.copy()
        tie = self._best_move(js, d, strict=False)
        stay: Option = ("stay", None, 0, 0, 0.0)
        for i in np.flatnonzero(tie > strict).tolist():
            j, m = int(js[i]), int(tie[i])
            q = int(self.q_m[j, m] - self.q0[j])
            x: Option = ("x", int(self.x[j]), q, int(self.dx[j] - self.d0[j]), 0.0)
            if self.lex.least(int(self.s0[j]), [stay, x]) == "x":
                best[i] = m
        return best

    # --- a profile change ------------------------------------------------------------

    def _profile_values(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pair the value ``q'(x) - q0 + d``; per scenario (of ``starts``) the value of
        being unplaced, and whether one more trainee could be placed (both kept)."""
        j, x = self.sc, self.xs
        here = x == self.s0[j]
        base = self.xq - self.q0[j]
        val = np.where(here, base, base + d)
        if self._fixed is None:
            starts, _ = _group_starts(j)
            js = j[starts]
            g = self.g
            unplace = -self.q0[js] + g.from_source[self.s0[js]]
            more_pair = np.isfinite(g.to_sink_any[x]) & ~here
            more = np.logical_or.reduceat(more_pair, starts) if len(starts) else more_pair
            more &= np.isfinite(g.from_source[self.s0[js]])
            self._fixed = (unplace, more)
        return val, self._fixed[0], self._fixed[1]

    def _profile_decide(
        self, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per scenario at the same number placed: claimed (a unique least option, a
        better choice), settled (claimed, or no better choice can be least), the claim's
        position, and per pair the largest ``d`` that could still matter (real cost)."""
        j = self.sc
        if len(j) == 0:
            z = np.zeros(0, dtype=bool)
            return z, z, np.zeros(0, np.int64), np.zeros(0)
        v_lo, unplace, _ = self._profile_values(lo)
        v_hi = self._profile_values(hi)[0]
        starts, grp = _group_starts(j)
        here = self.xs == self.s0[j]
        least = np.minimum(np.minimum.reduceat(v_hi, starts), unplace)  # the least upper value
        cand = v_lo <= least[grp]  # could be least
        n_cand = np.add.reduceat(cand.astype(np.int64), starts) + (unplace <= least)
        good = cand & self.better
        some_good = np.logical_or.reduceat(good, starts)
        first = np.full(len(starts), len(j), dtype=np.int64)
        hit = np.flatnonzero(good)
        np.minimum.at(first, grp[hit], hit)
        pick = np.minimum(first, len(j) - 1)
        more = self._profile_values(hi)[2]  # one more placed: see _more_claims
        claim = some_good & (n_cand == 1) & ~more
        need = least[grp] - (self.xq - self.q0[j])
        return claim, claim | ~some_good | more, pick, np.where(here | more[grp], -np.inf, need)

    def _profile_ties(self, d: np.ndarray, open_: np.ndarray) -> dict[int, int]:
        """Scenarios (of ``starts``) still open with exact ``d``: least by the draws.
        Returns scenario start -> position of the claimed pair."""
        out: dict[int, int] = {}
        val, unplace, _ = self._profile_values(d)
        starts, grp = _group_starts(self.sc)
        here = self.xs == self.s0[self.sc]
        least = np.minimum(np.minimum.reduceat(val, starts), unplace)
        at = val == least[grp]
        for i in np.flatnonzero(open_).tolist():
            a, b = int(starts[i]), int(starts[i + 1]) if i + 1 < len(starts) else len(val)
            j = int(self.sc[a])
            s0, top = int(self.s0[j]), float(least[i]) + self.q0[j]
            opts: list[Option] = []
            for k in range(a, b):
                if at[k]:
                    src = None if here[k] else int(self.xs[k])
                    dr = int(self.xd[k] - self.d0[j]) if src is not None else 0
                    opts.append((k, src, int(self.xq[k] - self.q0[j]), dr, top - self.q0[j]))
            if unplace[i] == least[i]:
                opts.append(("out", self.g.source, int(-self.q0[j]), int(-self.d0[j]),
                             top - self.q0[j]))  # fmt: skip
            won = self.lex.least(s0, opts)
            if isinstance(won, int) and self.better[won]:
                out[i] = won
        return out

    def _more_claims(self, more: np.ndarray) -> dict[int, int]:
        """Scenarios (of ``starts``) whose change places one more trainee: every optimum
        adds the path ``S ~> s0 -> y ~> T``, the least ``q'(y) + d(y, T)`` (then draws)."""
        if not more.any():
            return {}
        starts, grp = _group_starts(self.sc)
        here = self.xs == self.s0[self.sc]
        up = self.g.to_sink[self.xs]
        ok = np.isfinite(up) & ~here & more[grp]
        val = np.where(ok, self.xq + up, np.inf)
        least = np.minimum.reduceat(val, starts)
        at = ok & (val == least[grp])
        n_at = np.add.reduceat(at.astype(np.int64), starts)
        some_good = np.logical_or.reduceat(at & self.better, starts)
        first = np.full(len(starts), len(val), dtype=np.int64)
        hit = np.flatnonzero(at & self.better)
        np.minimum.at(first, grp[hit], hit)
        one = np.flatnonzero(some_good & (n_at == 1))
        out = dict(zip(one.tolist(), first[one].tolist(), strict=True))
        ends = np.r_[starts[1:], len(val)]
        for i in np.flatnonzero(some_good & (n_at > 1)).tolist():
            ks = (int(starts[i]) + np.flatnonzero(at[starts[i] : ends[i]])).tolist()
            opts: list[Option] = [
                (k, int(self.xs[k]), int(self.xq[k]), int(self.xd[k]), float(least[i])) for k in ks
            ]
            won = self.lex.least(self.g.sink, opts, avoid_source=True)
            if isinstance(won, int) and self.better[won]:
                out[i] = won
        return out

    # --- both, with exact distances where the bounds leave it open -------------------

    def _exact(self) -> None:
        """Chain distances of every pair the bounds leave open (see ``chain_distances``):
        ``self.rank_d`` per move up the list, ``self.pair_d`` per profile pair (NaN where
        not searched: settled by the bounds, or past the budget)."""
        if self._done:
            return
        self._done = True
        js, m_up, m_lo, _ = self._rank_bounds()
        open_r = np.flatnonzero(m_up != m_lo)
        sel = js[open_r]
        tg = [self.s0[sel]]
        # The answer is at least m_up: only whether m_up + 1 (or better) works is open.
        # A chain only matters below the upper bound too: d = min(upper, chain).
        upper_r = self.g.bounds(self.x[sel], self.s0[sel])[1]
        need = [np.minimum(self.q0[sel] - self.q_m[sel, m_up[open_r] + 1], upper_r)]
        xs = [self.x[sel]]
        open_p = np.zeros(len(self.sc), dtype=bool)
        if len(self.sc):
            lo, hi = self.g.bounds(self.xs, self.s0[self.sc])
            _, settled, _, need_p = self._profile_decide(lo, hi)
            _, grp = _group_starts(self.sc)
            open_p = ~settled[grp] & (need_p > -np.inf)
            tg.append(self.s0[self.sc[open_p]])
            need.append(np.minimum(need_p, hi)[open_p])
            xs.append(self.xs[open_p])
        d, done = self.g.chain_distances(
            np.concatenate(tg), np.concatenate(xs), np.concatenate(need), self.budget
        )
        d[~done] = np.nan
        self.rank_d = np.full(len(js), np.nan)
        self.rank_d[open_r] = d[: len(sel)]
        self.pair_d = np.full(len(self.sc), np.nan)
        self.pair_d[open_p] = d[len(sel) :]

    def rank_claims(self) -> list[tuple[int, int]]:
        """(scenario, move_to) of every placed trainee whose smallest move up the list
        places them at the choice in the lottery's optimum (``q_m + d(x, s0) - q0 < 0``,
        or ``== 0`` and the draws decide for the choice)."""
        js, m_up, m_lo, upper = self._rank_bounds()
        best = np.where(m_up == m_lo, m_up, 0)
        self._exact()
        ran = np.flatnonzero(~np.isnan(self.rank_d))  # searched (others: settled, or budget)
        if len(ran):
            d = np.minimum(upper[ran], self.rank_d[ran])
            best[ran] = self._rank_ties(js[ran], d, self._best_move(js[ran], d))
        hit = best > 0
        return list(zip(js[hit].tolist(), best[hit].tolist(), strict=True))

    def profile_claims(self) -> list[tuple[int, int]]:
        """(scenario, position in the caller's sorted pairs) of every placed trainee whose
        profile change places them at a better choice in the lottery's optimum."""
        if len(self.sc) == 0:
            return []
        lo, hi = self.g.bounds(self.xs, self.s0[self.sc])
        claim, settled, pick, _ = self._profile_decide(lo, hi)
        starts, grp = _group_starts(self.sc)
        more = self._profile_values(hi)[2]
        exact = np.logical_and.reduceat(lo == hi, starts)
        d = hi
        if not settled.all():
            self._exact()
            ran = ~np.isnan(self.pair_d)
            searched = np.zeros(len(starts), dtype=bool)
            searched[grp[ran]] = True
            d = np.where(ran, np.minimum(hi, np.nan_to_num(self.pair_d, nan=np.inf)), hi)
            exact_claim, exact_settled, exact_pick, _ = self._profile_decide(d, d)
            claim = np.where(searched, exact_claim, claim)
            settled = np.where(searched, exact_settled, settled)
            pick = np.where(searched, exact_pick, pick)
            exact |= searched
        found = dict(zip(np.flatnonzero(claim).tolist(), pick[claim].tolist(), strict=True))
        found.update(self._profile_ties(d, exact & ~settled & ~more))
        found.update(self._more_claims(more))
        return [(int(self.sc[starts[i]]), int(self.pos[k])) for i, k in sorted(found.items())]
