"""The request's region (docs/regions.md): a plugin reads its code and name, for instance in a
rule of its own that applies in one region only."""

from __future__ import annotations

from portal.regions import Region, current_region

__all__ = ["Region", "current_region"]
