"""Coordinator pages, one module per area: rounds, hosts and the audit log, CSV imports,
match runs, approvals, placements, and a round's trainees with erasure. They share one
blueprint, `coordinator`, under /coordinator."""

from __future__ import annotations

from placement.web.coordinator import (
    approvals,
    hosts,
    imports,
    jobs,
    placements,
    rounds,
    runs,
    trainees,
    vetting,
)
from placement.web.coordinator.base import bp

__all__ = [
    "approvals",
    "bp",
    "hosts",
    "imports",
    "jobs",
    "placements",
    "rounds",
    "runs",
    "trainees",
    "vetting",
]
