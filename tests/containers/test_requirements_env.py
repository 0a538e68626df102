"""Pip expands `${NAME}` in every line of a requirements file from its own
environment, and quotes the expanded line when it cannot parse it. A marker could name the
server's proxy variables (which pass through to pip, credentials and all), and the install
output (the session's `deployment:log`, the failure reason) then showed their values."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.runtimes import load_runtimes
from containers.dependency_fetch import FetchFailed, fetch
from containers.dependency_files import DependencyFilesInvalid, Plan, plan_for

LEAKY = "flask ; python_version == '${HTTPS_PROXY}' and\n"


async def test_pip_really_expands_the_servers_variables_into_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the refusal prevents, shown with the real pip on a plan made by hand."""
    monkeypatch.setenv("HTTPS_PROXY", "http://user:topsecret@127.0.0.1:9")
    output = bytearray()
    runtime = load_runtimes()["python"]
    with pytest.raises(FetchFailed):
        await asyncio.wait_for(
            fetch(
                Plan("python", (("requirements.txt", LEAKY),)),
                runtime,
                "http://127.0.0.1:9/simple",
                tmp_path,
                output.extend,
            ),
            60,
        )
    assert b"topsecret" in output, output.decode()


@pytest.mark.parametrize(
    "line",
    [
        LEAKY,
        "flask ; extra == '${HOME}'\n",
        "flask==${VERSION}\n",
        "${NAME}\n",
    ],
)
def test_a_requirement_naming_a_variable_is_refused(line: str) -> None:
    with pytest.raises(DependencyFilesInvalid, match="line 1"):
        plan_for(load_runtimes()["python"], {"requirements.txt": line})


def test_a_plain_marker_still_passes() -> None:
    plan = plan_for(
        load_runtimes()["python"], {"requirements.txt": "flask ; python_version >= '3.8'\n"}
    )
    assert plan is not None
