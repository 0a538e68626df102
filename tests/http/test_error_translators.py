"""Each application translates domain errors with its own table: building one never changes
another (the list used to be a module global that grew by one entry per build_app)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from collab.app import build_app
from collab.http.errors import ERROR_TRANSLATORS, ApiError
from config import Settings
from kernel.errors import BadGateway, NotFound, RateLimited
from tests.support import TEST_SECRET

pytestmark = pytest.mark.unit


def test_every_app_has_its_own_translators(tmp_path: Path) -> None:
    settings = Settings(secret_key=SecretStr(TEST_SECRET), data_dir=tmp_path)
    first = build_app(settings)
    for _ in range(3):
        build_app(settings)
    assert len(first[ERROR_TRANSLATORS]) == 1
    assert len(build_app(settings)[ERROR_TRANSLATORS]) == 1


def test_kernel_errors_keep_their_answers(tmp_path: Path) -> None:
    translators = build_app(Settings(secret_key=SecretStr(TEST_SECRET), data_dir=tmp_path))[
        ERROR_TRANSLATORS
    ]
    missing = translators.translate(NotFound("No such deployment."))
    assert missing is not None and (missing.status, missing.code) == (404, "not_found")
    limited = translators.translate(RateLimited(7))
    assert limited is not None and limited.headers == {"Retry-After": "7"}
    gateway = translators.translate(BadGateway("The app did not answer."))
    assert gateway is not None
    assert (gateway.status, gateway.code, gateway.headers) == (502, "bad_gateway", None)
    own = ApiError(418, "teapot", "I am one.")
    assert translators.translate(own) is own
    assert translators.translate(ValueError("not ours")) is None
