"""Merging a deployment's variables, masking its secrets, cutting kept output, reading stats:
pure functions, no engine."""

from __future__ import annotations

import pytest

from containers.engine import _stats
from containers.environment import EnvironmentTooLarge, Masker, merge
from containers.lifecycle import last_bytes

pytestmark = pytest.mark.unit


def _unseal(sealed: dict[str, str]) -> str:
    return sealed["ciphertext"].upper()


def test_the_session_overrides_the_workspace_and_secrets_are_opened() -> None:
    workspace = {
        "variables": [
            {"name": "A", "value": "ws", "secret": False},
            {"name": "B", "value": "ws-b", "secret": False},
            {"name": "PORT", "value": "1", "secret": False},
            {"name": "COLLAB_X", "value": "1", "secret": False},
        ]
    }
    session = {
        "variables": [
            {"name": "A", "value": "session", "secret": False},
            {"name": "TOKEN", "secret": True, "sealed": {"kid": "k", "ciphertext": "abcd"}},
        ]
    }
    merged = merge(workspace, session, _unseal)
    assert merged.variables == {"A": "session", "B": "ws-b", "TOKEN": "ABCD"}
    assert merged.secret_names == frozenset({"TOKEN"})
    assert merged.secret_values == ["ABCD"]
    assert merge({}, {}, _unseal).variables == {}


def test_the_git_credentials_stay_out_of_deployments() -> None:
    workspace = {
        "variables": [
            {"name": "GIT_TOKEN", "secret": True, "sealed": {"kid": "k", "ciphertext": "ghp"}},
            {"name": "GIT_USERNAME", "value": "oauth2", "secret": False},
            {"name": "API_URL", "value": "https://api.example.com", "secret": False},
        ]
    }
    merged = merge(workspace, {}, _unseal)
    assert merged.variables == {"API_URL": "https://api.example.com"}
    assert merged.secret_names == frozenset()


def test_too_large_an_environment_is_refused() -> None:
    big = {"variables": [{"name": f"V{i}", "value": "x" * 8192} for i in range(20)]}
    with pytest.raises(EnvironmentTooLarge):
        merge(big, {}, _unseal)


def test_masking() -> None:
    mask = Masker(["hunter22", "hunter2233", "ab", "line one\nline two"])
    assert mask("pw=hunter2233 and hunter22") == "pw=*** and ***"
    assert mask("ab stays: too short to mask") == "ab stays: too short to mask"
    assert mask("line two alone") == "*** alone"
    assert not Masker([]) and Masker(["long enough"])


def test_kept_output_is_the_end_starting_at_a_line() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    kept = last_bytes(text, 100)
    assert len(kept.encode()) <= 100 and kept.startswith("line ") and kept.endswith("line 999\n")
    assert last_bytes("short", 100) == "short"
    assert last_bytes("é" * 100, 11) == "é" * 5  # never half a character


def test_stats_read_as_docker_stats_does() -> None:
    raw = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000},
            "system_cpu_usage": 20_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
        "memory_stats": {"usage": 5000, "limit": 10_000, "stats": {"cache": 1000}},
        "networks": {"eth0": {"rx_bytes": 7, "tx_bytes": 3}},
    }
    assert _stats(raw) == {
        "cpu_percent": 40.0,
        "memory_bytes": 4000,
        "memory_limit_bytes": 10_000,
        "network_rx_bytes": 7,
        "network_tx_bytes": 3,
    }
    assert _stats({})["cpu_percent"] == 0.0
