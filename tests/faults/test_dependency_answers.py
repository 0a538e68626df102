"""How the edge answers a dependency's failure: 503 `unavailable` with Retry-After, never a
500, whatever the client library raised; misuse of the database stays a 500."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
import redis.exceptions
from pydantic import SecretStr

from collab.app import build_app
from collab.db import DatabaseUnreachable
from collab.http.errors import ERROR_TRANSLATORS, ErrorTranslators
from config import Settings
from kernel.errors import RateLimited, Unavailable
from tests.support import TEST_SECRET

pytestmark = pytest.mark.unit


@pytest.fixture
def translators(tmp_path: Path) -> ErrorTranslators:
    return build_app(Settings(secret_key=SecretStr(TEST_SECRET), data_dir=tmp_path))[
        ERROR_TRANSLATORS
    ]


@pytest.mark.parametrize(
    "failure",
    [
        DatabaseUnreachable("PostgreSQL does not answer: [Errno 2] No such file or directory"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        redis.exceptions.ConnectionError("Error 111 connecting to localhost:6379."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        TimeoutError(),  # a pool acquire that ran out of time
        Unavailable("The Docker Engine does not answer."),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_a_failing_dependency_is_503_with_retry_after(
    translators: ErrorTranslators, failure: Exception
) -> None:
    answer = translators.translate(failure)
    assert answer is not None
    assert (answer.status, answer.code) == (503, "unavailable")
    assert answer.headers is not None and int(answer.headers["Retry-After"]) > 0
    # The client is told what to do, not what broke inside.
    assert "Errno" not in answer.message and "connection" not in answer.message.lower()


def test_misusing_the_database_is_still_our_bug(translators: ErrorTranslators) -> None:
    answer = translators.translate(
        asyncpg.InterfaceError("the server expects 2 arguments for this query, 1 was passed")
    )
    assert answer is not None and (answer.status, answer.code) == (500, "internal_error")


def test_rate_limits_keep_their_own_retry_after(translators: ErrorTranslators) -> None:
    answer = translators.translate(RateLimited(42))
    assert answer is not None and answer.headers == {"Retry-After": "42"}
    assert translators.translate(FileNotFoundError("not a dependency")) is None
