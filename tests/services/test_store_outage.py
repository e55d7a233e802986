"""A call's record through a short database outage (PostgreSQL): the media session's writes at
call end are tried again until the store is back, and the reconciler does not take live calls for
lost right after an outage. The outage is real: the platform reaches PostgreSQL through a TCP relay
of this test's own, which drops every connection and then refuses each new one (closes it as soon
as it is accepted, the way a restarting server does) until it is told to relay again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from callwright.platform import Platform
from callwright.services import media_events, media_sockets
from callwright.services.reconciler import Reconciler
from callwright.settings import Settings
from callwright.store.db import create_engine, retry_while_unreachable, store_unreachable
from callwright.store.migrate import upgrade
from callwright.store.models import Call, CallEventRow, utcnow
from tests.conftest import TEST_ADMIN_TOKEN, TEST_SECRET_KEY, make_partner, throwaway_postgres_database
from tests.connection_rows import add_call
from tests.unreachable import unreachable_carriers

pytestmark = pytest.mark.postgres


class Relay:
    """127.0.0.1:<port> → PostgreSQL. ``cut()``: live connections dropped, new ones accepted and
    closed at once (counted); ``mend()``: relayed again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.up = True
        self.refused = 0
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def mend(self) -> None:
        self.up = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.refused += 1
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._links |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._links -= {writer, up_writer}


@pytest.fixture
async def relayed(tmp_path: Path) -> AsyncIterator[tuple[Platform, Relay]]:
    async with throwaway_postgres_database() as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        parsed = make_url(url)
        relay = Relay(parsed.host or "127.0.0.1", parsed.port or 5432)
        port = await relay.start()
        settings = Settings(
            var_dir=tmp_path / "var",
            database_url=parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False),
            secret_key=TEST_SECRET_KEY,
            admin_token=TEST_ADMIN_TOKEN,
            public_url="http://127.0.0.1:8080",
            carrier_timeout_secs=3.0,
            reconcile_interval_secs=0.5,
            reconcile_after_secs=2.0,
            **unreachable_carriers(),
        )
        platform = Platform.from_settings(settings)
        try:
            yield platform, relay
        finally:
            await platform.close()
            await relay.close()


def _outcome(ended_at_offset_secs: float = 0.0):  # type: ignore[no-untyped-def]
    from callwright.voice.session import MediaOutcome

    now = utcnow() + timedelta(seconds=ended_at_offset_secs)
    transcript = [
        {"role": "bot", "content": "Hello, this is a test call.", "timestamp": "2026-01-01T00:00:00Z"},
        {"role": "user", "content": "said while the database was down", "timestamp": "2026-01-01T00:00:03Z"},
    ]
    return MediaOutcome(
        end_reason="caller_hung_up", started_at=now - timedelta(seconds=5), ended_at=now,
        first_agent_audio_at=None, intro_spoken=True, transcript=transcript,
    )  # fmt: skip


async def _live_call(platform: Platform) -> str:
    partner = await make_partner(platform, "outage")
    call_id = await add_call(platform, partner.id, status="ringing", provider_call_id="vz-outage")
    from callwright.carriers.base import MediaStart

    start = MediaStart("stream-1", "vz-outage", {}, "audio/x-mulaw", 8000)
    assert await media_events.media_started(
        platform=platform, call_id=call_id, start=start, socket_id="sock-1"
    )
    return call_id


async def _refused_at_least(relay: Relay, count: int) -> None:
    async with asyncio.timeout(30):  # hang guard
        while relay.refused < count:
            await asyncio.sleep(0.02)


async def test_the_call_record_written_at_its_end_waits_out_a_short_outage(relayed):
    platform, relay = relayed
    call_id = await _live_call(platform)
    outcome = _outcome()

    relay.cut()
    write = asyncio.create_task(
        retry_while_unreachable(
            partial(
                media_events.media_ended,
                platform=platform,
                call_id=call_id,
                outcome=outcome,
                socket_id="sock-1",
            ),
            what="test",
        )
    )
    await _refused_at_least(relay, 3)  # three tries met a database that was not there
    assert not write.done()
    relay.mend()
    async with asyncio.timeout(30):  # hang guard
        await write

    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        kinds = list(await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == call_id)))
    assert call.transcript == outcome.transcript  # nothing of the record lost
    assert call.media_ended_at == outcome.ended_at and call.media_socket_id is None
    assert kinds.count("media_ended") == 1


async def test_a_record_already_stored_is_not_stored_twice(relayed):
    platform, _ = relayed
    call_id = await _live_call(platform)
    outcome = _outcome()
    # A try whose commit reached the database although its answer was lost, then the next try.
    for _ in range(2):
        await media_events.media_ended(
            platform=platform, call_id=call_id, outcome=outcome, socket_id="sock-1"
        )
    async with platform.sessions() as session:
        kinds = list(await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == call_id)))
    assert kinds.count("media_ended") == 1


async def test_the_retry_gives_up_after_its_bound_and_other_errors_are_not_retried(relayed):
    platform, relay = relayed
    tries = 0

    async def broken_write() -> None:
        nonlocal tries
        tries += 1
        async with platform.sessions() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception) as raised:
        await retry_while_unreachable(broken_write, what="test")
    assert tries == 1 and not store_unreachable(raised.value)  # a bug, not an outage: once

    async def write() -> None:
        async with platform.sessions() as session:
            await session.execute(text("SELECT 1"))

    relay.cut()
    refused_before = relay.refused
    with pytest.raises(Exception) as raised:
        await retry_while_unreachable(write, what="test", within_secs=1.0, first_delay_secs=0.1)
    assert store_unreachable(raised.value)
    assert relay.refused - refused_before >= 3  # tried again with backoff (0.1, 0.2, 0.4 s) before giving up


async def test_the_reconciler_judges_no_call_silent_right_after_an_outage(relayed):
    platform, relay = relayed
    live = await _live_call(platform)
    partner = await make_partner(platform, "outage-2")
    # A dial never confirmed: judged on silence alone (no carrier to ask), closed once judged.
    unconfirmed = await add_call(platform, partner.id, status="pending", dial_state="unconfirmed")
    quiet = utcnow() - timedelta(seconds=30)
    async with platform.sessions() as session:
        # Their nodes' heartbeats and callbacks could not reach the store during the outage.
        await session.execute(update(Call).where(Call.id.in_([live, unconfirmed])).values(updated_at=quiet))
        await session.commit()
    reconciler = Reconciler(platform)
    relay.cut()
    with pytest.raises(Exception) as raised:
        await reconciler.run_once()
    assert store_unreachable(raised.value)
    relay.mend()
    # The first pass with the store back judges nothing: the calls' nodes have yet to heartbeat.
    assert await reconciler.run_once() == 0
    async with platform.sessions() as session:
        calls = {c.id: c for c in await session.scalars(select(Call).where(Call.id.in_([live, unconfirmed])))}
        kinds = list(
            await session.scalars(
                select(CallEventRow.kind).where(CallEventRow.call_id.in_([live, unconfirmed]))
            )
        )
    assert {c.id: (c.status, c.end_reason) for c in calls.values()} == {
        live: ("in_progress", None),
        unconfirmed: ("pending", None),
    }
    assert "reconciler_hangup" not in kinds and "media_lost" not in kinds
    # A reconciler that saw no outage judges them now (so the test can fail): it closes the
    # unconfirmed dial (the live call's carrier is unreachable here: it waits for the next pass).
    assert await Reconciler(platform).run_once() == 1


async def test_a_call_whose_end_is_still_being_stored_is_heartbeated_by_its_node(relayed):
    """The caller hung up during the outage: the media session is over and its record waits for
    the store. Until it is stored the node still answers for the call: once the store is back its
    reconciler heartbeats the call, so no node's reconciler takes it (silent all through the
    outage, its stream started and not ended) for a lost stream, and ends it "media stream lost"
    before its own end lands."""
    platform, relay = relayed
    call_id = await _live_call(platform)
    quiet = utcnow() - timedelta(seconds=30)
    async with platform.sessions() as session:
        await session.execute(update(Call).where(Call.id == call_id).values(updated_at=quiet))
        await session.commit()
    reconciler = Reconciler(platform)
    may_land = asyncio.Event()

    async def write_once_let() -> None:
        # The record lands only when the test says so (an event, not a delay): the reconciler's
        # passes below run while it is still waiting.
        await may_land.wait()
        await media_events.media_ended(platform=platform, call_id=call_id, outcome=_outcome(), socket_id="sock-1")

    storing = asyncio.create_task(media_sockets.store_media_end(platform, call_id, "sock-1", write_once_let, what="test"))
    try:
        relay.cut()
        with pytest.raises(Exception) as raised:
            await reconciler.run_once()  # the outage: no heartbeat reaches the store
        assert store_unreachable(raised.value)
        relay.mend()
        assert platform.answers_for(call_id) and call_id not in platform.media_sessions
        await reconciler.run_once()  # the first pass with the store back
        async with platform.sessions() as session:
            call = await session.get(Call, call_id)
            assert call is not None
        assert call.media_ended_at is None  # the record is still waiting
        assert call.updated_at > quiet + timedelta(seconds=25), call.updated_at  # heartbeated: not silent
        assert call.status == "in_progress" and call.end_reason is None
        may_land.set()
        async with asyncio.timeout(30):  # hang guard
            await storing
    finally:
        storing.cancel()
    assert not platform.answers_for(call_id)  # stored: the node no longer answers for it
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert call is not None and call.media_ended_at is not None
