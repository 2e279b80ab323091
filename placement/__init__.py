"""Placement: matching trainees to industry placements in the UK MedTech sector.

The package root stays import-light so that `placement.matching` loads without Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from placement.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, **kwargs: Any) -> Flask:
    from placement.app import create_app as _create_app

    return _create_app(settings, **kwargs)
