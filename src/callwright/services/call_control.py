"""Reaching a call's media session wherever it runs, and electing the one process that dials.

One process (the embedded default) needs neither: a command goes straight to the session in
``Platform.media_sessions``, and that process runs the dialer.

Scaled out (several worker processes behind one port, or several nodes), ``CALLWRIGHT_REDIS_URL``
is set and each call's media socket lives in exactly one process, while the request that wants
to end the call (``POST /calls/{id}/end``, a carrier's answering-machine callback) can land on any
of them. Such a command goes through Redis to the process holding the call's session:

- **Direct.** A process that takes a call's media session records itself as its holder,
  ``<namespace>:call-holder:<call id>`` = its control id (one ``SET`` when the session starts,
  one compare-and-delete when it ends, written in order by one task, pipelined when several
  calls change at once; the record lapses after ``HOLDER_TTL_SECS`` unless refreshed, and the
  node registry's heartbeat writes every live call's record again when it finds this process's
  registration gone: a Redis restart, or every ``HOLDER_TTL_SECS / 2``). Every process
  subscribes to its own request channel, ``<namespace>:control:requests:<control id>``. A
  command is one ``GET`` of the record and one ``PUBLISH`` to the holder's channel; the holder
  answers that it holds the call, then that the command ran — or that it no longer holds it
  (the session just ended): False.
- **Broadcast** (the fallback, and what processes without holder records did before): no record
  (a process of an older version, a record lost with Redis and not yet re-asserted, the session
  starting this instant), a record naming a process that no longer listens (killed), or one
  naming this process while it holds no such session. The command is published to every
  process on ``<namespace>:control:requests``; every process answers whether it holds the
  call's session, and the one that does answers again after running the command.

Either way the caller of :meth:`CallControl.run` learns at once that no process holds the call,
or waits for the one that does.

The same Redis holds the dialer's lease (:class:`DialerElection`): a carrier account's CPS is
paced inside one dialer, so exactly one process may dial. The lease is renewed every
``RENEW_SECS`` and lapses ``LEASE_SECS`` after the holder stops renewing (killed, hung, cut off
from Redis); another process then takes over. A holder that cannot renew stops dialing once its
lease would have lapsed, so two dialers never run for longer than a renewal can be late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from callwright.domain.call_commands import ControlCommand
from callwright.services.lease_election import DELETE_IF_OURS, LeaseElection

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

    from callwright.platform import Platform

log = logging.getLogger("callwright.control")

# How long a caller waits for the holder to finish each command: ending is quick; speaking a
# message first takes as long as the message.
COMMAND_TIMEOUT_SECS = {
    ControlCommand.END: 5.0,
    ControlCommand.SPEAK_THEN_END: 90.0,
    ControlCommand.LEAVE_VOICEMAIL: 90.0,
    ControlCommand.TRANSFER: 5.0,  # the session starts the transfer and answers at once
    ControlCommand.TRANSFER_BRIDGING: 5.0,  # a flag set
    ControlCommand.TRANSFER_NOT_REACHED: 5.0,  # the line is queued, not awaited
}
# How long to wait for the other processes to say whether they hold the call.
ANSWER_TIMEOUT_SECS = 2.0
# How long a call's holder record lives unless written again: far longer than a call, so the
# heartbeat's full rewrite (every half of it) keeps a live call's record; a killed process's
# records lapse by themselves (until then a command for such a call is broadcast, see above).
HOLDER_TTL_SECS = 6 * 3600.0

WAKE_SPACING_SECS = 0.01


class CallControl:
    """Runs a command on a call's media session, in this process or through Redis in another."""

    def __init__(self, platform: Platform, redis_url: str | None, *, namespace: str = "callwright") -> None:
        self.platform = platform
        self.node_id = uuid.uuid4().hex
        self.redis_url = redis_url
        # Installs sharing one Redis keep apart by namespace (pub/sub channels ignore Redis's
        # numbered databases).
        self.requests = f"{namespace}:control:requests"
        self._own_requests_prefix = f"{namespace}:control:requests:"
        self._holder_prefix = f"{namespace}:call-holder:"
        self.dial_channel = f"{namespace}:control:dial"
        self.dialer_lease = f"{namespace}:dialer-lease"
        self._reply_prefix = f"{namespace}:control:replies:"
        self.redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, _Pending] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._wake_wanted = False
        self._waker: asyncio.Task[None] | None = None
        # Holder records to write, in order: call id -> held (SET) or let go (delete if ours).
        self._holder_changes: dict[str, bool] = {}
        self._holder_writer: asyncio.Task[None] | None = None
        # Counts for tests and the bench: messages this process's subscription delivered,
        # requests from other processes it has answered, and commands it sent directly to a
        # holder or broadcast.
        self.messages_heard = 0
        self.requests_answered = 0
        self.sent_direct = 0
        self.sent_broadcast = 0
        # Set when a holder record could not be written: the heartbeat writes them all again.
        self.holders_stale = False

    @property
    def replies(self) -> str:
        return self._replies_of(self.node_id)

    @property
    def own_requests(self) -> str:
        """The channel on which this process hears commands sent to it as a call's holder."""
        return self._own_requests_prefix + self.node_id

    def holder_key(self, call_id: str) -> str:
        return self._holder_prefix + call_id

    def _replies_of(self, node_id: str) -> str:
        """The channel on which the process ``node_id`` hears answers to its requests."""
        return self._reply_prefix + node_id

    @property
    def shared(self) -> bool:
        """Whether other processes may hold calls (commands and the dialer go through Redis)."""
        return self.redis is not None

    async def start(self) -> None:
        if self.redis_url is None or self.redis is not None:
            return
        from redis.asyncio import Redis

        self.redis = Redis.from_url(self.redis_url, socket_connect_timeout=5, health_check_interval=30)
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.requests, self.own_requests, self.replies, self.dial_channel)
        self._reader = asyncio.create_task(self._read(), name="callwright-control")

    async def close(self) -> None:
        if self._waker is not None:
            self._waker.cancel()
            await asyncio.gather(self._waker, return_exceptions=True)
        if self._holder_writer is not None:
            # The last changes (a session that just ended) are written before the connection goes.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._holder_writer), timeout=2.0)
            self._holder_writer.cancel()
            await asyncio.gather(self._holder_writer, return_exceptions=True)
            self._holder_writer = None
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def run(self, call_id: str, command: ControlCommand, **args: Any) -> bool:
        """Run ``command`` on the call's media session; False when no process holds it."""
        timeout = COMMAND_TIMEOUT_SECS[command]
        media = self.platform.media_sessions.get(call_id)
        if media is not None:
            await _run_on(media, command, args)
            return True
        if self.redis is None:
            return False
        holder = await self._holder_of(call_id)
        if holder is not None and holder != self.node_id:
            reached = await self._send(call_id, command, args, self._own_requests_prefix + holder, timeout)
            if reached is not None:
                self.sent_direct += 1
                return reached
            # The record names a process that no longer listens (killed): ask everyone.
        self.sent_broadcast += 1
        return bool(await self._send(call_id, command, args, self.requests, timeout))

    async def _holder_of(self, call_id: str) -> str | None:
        """The control id of the process that recorded itself as the call's holder, if any."""
        assert self.redis is not None
        try:
            holder = await self.redis.get(self.holder_key(call_id))
        except RedisError as exc:  # the broadcast's publish will tell whether Redis is there
            log.warning("call %s: could not look up its holder: %s", call_id, type(exc).__name__)
            return None
        if holder is None:
            return None
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    async def _send(
        self, call_id: str, command: ControlCommand, args: dict[str, Any], channel: str, timeout: float
    ) -> bool | None:
        """Publish the command on ``channel``; None when no other process heard it, else whether
        one of those that did held the call (and ran the command)."""
        assert self.redis is not None
        request_id = uuid.uuid4().hex
        pending = self._pending[request_id] = _Pending()
        try:
            message = {"id": request_id, "from": self.node_id, "call_id": call_id, "command": command, "args": args}
            try:
                receivers = await self.redis.publish(channel, json.dumps(message))
            except RedisError as exc:  # as if no process held it: the caller has a way without
                log.warning("call %s: could not reach the other processes: %s", call_id, type(exc).__name__)
                return False
            # The broadcast reaches this process too (it ignores its own).
            others = receivers - 1 if channel == self.requests else receivers
            if others <= 0:
                return None
            pending.expect(others)
            return await pending.outcome(answer_timeout=ANSWER_TIMEOUT_SECS, done_timeout=timeout)
        finally:
            self._pending.pop(request_id, None)

    def session_started(self, call_id: str) -> None:
        """This process took the call's media session: record it as the holder (in the background)."""
        self._holder_change(call_id, held=True)

    def session_ended(self, call_id: str) -> None:
        """This process let go of the call's media session: drop its holder record if still ours."""
        self._holder_change(call_id, held=False)

    def _holder_change(self, call_id: str, *, held: bool) -> None:
        if self.redis is None:
            return
        # A later change replaces an unwritten earlier one (started and ended before a write).
        self._holder_changes.pop(call_id, None)
        self._holder_changes[call_id] = held
        if self._holder_writer is None or self._holder_writer.done():
            self._holder_writer = asyncio.create_task(self._write_holders(), name="callwright-call-holders")

    async def _write_holders(self) -> None:
        """Write the holder records' changes in the order they came, one pipeline per batch."""
        while self._holder_changes and self.redis is not None:
            changes, self._holder_changes = self._holder_changes, {}
            ttl_ms = int(HOLDER_TTL_SECS * 1000)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for call_id, held in changes.items():
                        if held:
                            pipe.set(self.holder_key(call_id), self.node_id, px=ttl_ms)
                        else:
                            pipe.eval(DELETE_IF_OURS, 1, self.holder_key(call_id), self.node_id)
                    await pipe.execute()
            except RedisError as exc:
                # Commands for these calls are broadcast meanwhile (or a stale record is answered
                # "not held"); the heartbeat re-asserts live calls' records when Redis comes back.
                self.holders_stale = True
                log.warning("could not write %d call holder records: %s", len(changes), type(exc).__name__)

    async def assert_holders(self) -> bool:
        """Write the holder records of this process's live sessions again, in one pipeline (after
        a Redis restart lost them, and to refresh their expiry); whether they were written."""
        if self.redis is None:
            return True
        self.holders_stale = False
        for call_id in list(self.platform.media_sessions):
            if call_id not in self._holder_changes:  # else its latest change is about to be written
                self._holder_change(call_id, held=True)
        await self.holders_written()
        return not self.holders_stale

    async def holders_written(self) -> None:
        """Wait until the holder records' changes made so far are written (or failed)."""
        if self._holder_writer is not None:
            await asyncio.shield(self._holder_writer)

    def wake_dialer(self) -> None:
        """A call was queued: wake the dialer, in this process or in the one elected to dial.

        Across processes the wake-ups are coalesced: at most one publish per
        ``WAKE_SPACING_SECS``, the last of a burst always sent, none awaited by the request."""
        self.platform.dial_wakeup.set()
        if self.redis is None or self.platform.dialer is not None:
            return
        self._wake_wanted = True
        if self._waker is None or self._waker.done():
            self._waker = asyncio.create_task(self._publish_wakeups(), name="callwright-dial-wakeup")

    async def _publish_wakeups(self) -> None:
        while self._wake_wanted and self.redis is not None:
            self._wake_wanted = False
            try:
                await self.redis.publish(self.dial_channel, "")
            except Exception as exc:  # the dialer polls anyway; a lost wake-up only delays a dial
                log.warning("could not wake the dialer through Redis: %s", type(exc).__name__)
            await asyncio.sleep(WAKE_SPACING_SECS)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted or unreachable: redis-py reconnects
                log.warning("control channel read failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            self.messages_heard += 1
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if channel == self.dial_channel:
                self.platform.dial_wakeup.set()
                continue
            try:
                body = json.loads(message["data"])
            except (TypeError, ValueError):
                log.warning("ignored a malformed control message")
                continue
            if channel in (self.requests, self.own_requests) and body.get("from") != self.node_id:
                task = asyncio.create_task(self._answer(body))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            elif channel == self.replies and (pending := self._pending.get(body.get("id"))):
                pending.answer(bool(body.get("holds")), bool(body.get("done")))

    async def _answer(self, request: dict[str, Any]) -> None:
        self.requests_answered += 1
        try:
            await self._run_for(request)
        except RedisError as exc:  # the asker times out and goes on without us
            log.warning("could not answer a control request: %s", type(exc).__name__)

    async def _run_for(self, request: dict[str, Any]) -> None:
        assert self.redis is not None
        reply_to = self._replies_of(str(request["from"]))
        media = self.platform.media_sessions.get(str(request.get("call_id")))
        command = request.get("command")
        if media is None or command not in COMMAND_TIMEOUT_SECS:
            await self.redis.publish(reply_to, json.dumps({"id": request["id"], "holds": False}))
            return
        await self.redis.publish(reply_to, json.dumps({"id": request["id"], "holds": True}))
        try:
            await _run_on(media, ControlCommand(command), request.get("args", {}))
        except Exception:
            log.exception("call %s: control command %s failed", request.get("call_id"), command)
        await self.redis.publish(reply_to, json.dumps({"id": request["id"], "holds": True, "done": True}))


async def _run_on(media: Any, command: ControlCommand, args: dict[str, Any]) -> None:
    """Each command is the media session's method of that name (``voice.session``)."""
    await getattr(media, command.value)(**args)


class _Pending:
    """One request's answers: who holds the call, and whether it has run the command."""

    def __init__(self) -> None:
        self.expected: int | None = None  # known once the publish returns; answers may come first
        self.refusals = 0
        self.held = asyncio.Event()
        self.done = asyncio.Event()
        self.nobody = asyncio.Event()

    def expect(self, others: int) -> None:
        self.expected = others
        self._settle()

    def answer(self, holds: bool, done: bool) -> None:
        if done:
            self.done.set()
        elif holds:
            self.held.set()
        else:
            self.refusals += 1
            self._settle()

    def _settle(self) -> None:
        if self.expected is not None and self.refusals >= self.expected:
            self.nobody.set()

    async def outcome(self, *, answer_timeout: float, done_timeout: float) -> bool:
        held, nobody = asyncio.ensure_future(self.held.wait()), asyncio.ensure_future(self.nobody.wait())
        try:
            await asyncio.wait({held, nobody}, timeout=answer_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            held.cancel()
            nobody.cancel()
        if not self.held.is_set() and not self.done.is_set():
            return False  # nobody holds it, or nobody answered in time
        try:
            await asyncio.wait_for(self.done.wait(), timeout=done_timeout)
        except TimeoutError:
            log.warning("the process holding a call did not finish its command in %.0f s", done_timeout)
        return True


class DialerElection(LeaseElection):
    """Keeps this process's claim on the dialer lease, running the dialer while it holds it."""

    role = "dialer"

    def __init__(self, platform: Platform, control: CallControl) -> None:
        super().__init__(control, control.dialer_lease)
        self.platform = platform

    def _running(self) -> bool:
        return self.platform.dialer is not None

    def _start_worker(self) -> None:
        from callwright.services.dialer import Dialer

        self.platform.dialer = Dialer(self.platform)
        self.platform.dialer.start()

    async def _stop_worker(self) -> None:
        dialer, self.platform.dialer = self.platform.dialer, None
        if dialer is not None:
            log.info("this process no longer runs the dialer")
            await dialer.stop()
