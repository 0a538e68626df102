"""The preview's kept verdicts: how long a yes lasts and what ends it (`Verdicts` on its own),
and that the real publishers' messages reach it through a real Redis (`VerdictFeed`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from auth.revocation import SessionRevocation
from collab.sessions.events import SessionEvents
from containers.preview_access import VerdictFeed, Verdicts, Viewer

SESSION, OTHER_SESSION = uuid.uuid4(), uuid.uuid4()
ANN, BOB = Viewer(uuid.uuid4(), 3), Viewer(uuid.uuid4(), 1)


def live_verdicts(ttl: float = 60.0) -> Verdicts:
    verdicts = Verdicts(ttl)
    verdicts.set_live(True)
    return verdicts


def test_nothing_is_kept_while_changes_cannot_reach_us() -> None:
    verdicts = Verdicts()
    verdicts.grant(SESSION, ANN, verdicts.epoch)
    assert not verdicts.stands(SESSION, ANN)  # not subscribed yet
    verdicts.set_live(True)
    verdicts.grant(SESSION, ANN, verdicts.epoch)
    assert verdicts.stands(SESSION, ANN)
    verdicts.set_live(False)  # Redis lost: what was kept may miss a change, so it goes
    assert not verdicts.stands(SESSION, ANN)


def test_a_yes_lasts_its_bound_and_no_longer() -> None:
    verdicts = live_verdicts(ttl=0.05)
    verdicts.grant(SESSION, ANN, verdicts.epoch)
    assert verdicts.stands(SESSION, ANN)
    time.sleep(0.06)
    assert not verdicts.stands(SESSION, ANN)


def test_a_yes_is_for_one_session_and_one_token_generation() -> None:
    verdicts = live_verdicts()
    verdicts.grant(SESSION, ANN, verdicts.epoch)
    assert not verdicts.stands(OTHER_SESSION, ANN)
    assert not verdicts.stands(SESSION, Viewer(ANN.user_id, ANN.generation - 1))


def test_a_change_ends_the_yes_it_concerns_and_only_those() -> None:
    verdicts = live_verdicts()
    for session_id in (SESSION, OTHER_SESSION):
        for viewer in (ANN, BOB):
            verdicts.grant(session_id, viewer, verdicts.epoch)

    verdicts.user_changed(ANN.user_id)  # logout-all, password reset, deactivation
    assert not verdicts.stands(SESSION, ANN) and not verdicts.stands(OTHER_SESSION, ANN)
    assert verdicts.stands(SESSION, BOB) and verdicts.stands(OTHER_SESSION, BOB)

    verdicts.grant(SESSION, ANN, verdicts.epoch)
    verdicts.session_changed(SESSION, BOB.user_id)  # removed from one session
    assert not verdicts.stands(SESSION, BOB)
    assert verdicts.stands(OTHER_SESSION, BOB) and verdicts.stands(SESSION, ANN)

    verdicts.session_changed(OTHER_SESSION, None)  # everyone's (the session went)
    assert not verdicts.stands(OTHER_SESSION, BOB)
    assert verdicts.stands(SESSION, ANN)


def test_a_check_under_way_when_a_change_arrives_is_not_kept() -> None:
    verdicts = live_verdicts()
    started = verdicts.epoch  # the database said yes, but the answer is still on its way...
    verdicts.user_changed(ANN.user_id)  # ... when their sessions end
    verdicts.grant(SESSION, ANN, started)
    assert not verdicts.stands(SESSION, ANN)


@dataclass
class Fed:
    publisher: Redis  # another connection, as another process would publish
    verdicts: Verdicts
    feed: VerdictFeed
    deployments_changed: list[uuid.UUID]


@pytest.fixture
async def fed(clean_redis: str) -> AsyncIterator[Fed]:
    listening, publishing = Redis.from_url(clean_redis), Redis.from_url(clean_redis)
    verdicts, changed = Verdicts(), list[uuid.UUID]()
    feed = VerdictFeed(listening, verdicts, changed.append)
    await feed.start()
    yield Fed(publishing, verdicts, feed, changed)
    await feed.stop()
    assert not verdicts.live
    await listening.aclose()
    await publishing.aclose()


async def test_the_publishers_messages_end_verdicts(fed: Fed) -> None:
    """What auth and the session service really publish (not a copy of their format). No
    waiting anywhere: a kept yes is used only once every earlier change is applied."""
    verdicts, feed = fed.verdicts, fed.feed
    assert verdicts.live
    events = SessionEvents(fed.publisher)

    verdicts.grant(SESSION, ANN, verdicts.epoch)
    verdicts.grant(SESSION, BOB, verdicts.epoch)
    deployment_id = uuid.uuid4()
    await events.emit(SESSION, "participant:joined", {"user_id": str(ANN.user_id)})
    await events.emit(
        SESSION, "deployment:status", {"deployment_id": str(deployment_id), "status": "stopping"}
    )
    assert await feed.still_stands(SESSION, ANN), "an announcement changes no access"
    assert fed.deployments_changed == [deployment_id]  # the proxy forgets its kept row

    await SessionRevocation(fed.publisher).user_revoked(ANN.user_id)
    assert not await feed.still_stands(SESSION, ANN)
    assert await feed.still_stands(SESSION, BOB)

    await events.removed(SESSION, BOB.user_id)
    assert not await feed.still_stands(SESSION, BOB)

    verdicts.grant(SESSION, BOB, verdicts.epoch)
    await events.role_changed(SESSION, BOB.user_id, "viewer")
    assert not await feed.still_stands(SESSION, BOB)

    verdicts.grant(SESSION, ANN, verdicts.epoch)
    await events.removed(SESSION, None)
    assert not await feed.still_stands(SESSION, ANN)


async def test_a_change_is_never_overtaken(fed: Fed) -> None:
    """The change reaches the feed on another connection than the one that published it; a
    question asked right after the publisher got its answer must still see it."""
    revocation = SessionRevocation(fed.publisher)
    for _ in range(50):
        fed.verdicts.grant(SESSION, ANN, fed.verdicts.epoch)
        assert await fed.feed.still_stands(SESSION, ANN)
        await revocation.user_revoked(ANN.user_id)
        assert not await fed.feed.still_stands(SESSION, ANN)
