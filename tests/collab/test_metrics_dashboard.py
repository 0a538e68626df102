"""docs/grafana-dashboard.json draws every family of `kernel.metrics` and names no series
that the server does not expose (a renamed metric would leave a panel silently empty)."""

from __future__ import annotations

import json
import re

from kernel.metrics import REGISTRY
from tests.support import REPO

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed() -> dict[str, str]:
    """Every series name of ours → its family."""
    names: dict[str, str] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("collab_"):
            for suffix in SUFFIXES[family.type]:
                names[family.name + suffix] = family.name
    return names


def test_the_dashboard_draws_every_family_and_nothing_else() -> None:
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bcollab_[a-z_]+", expr)}
    series = exposed()
    assert used - set(series) == set(), "the dashboard names series the server lacks"
    assert {series[name] for name in used} == set(series.values()), "families not drawn"
