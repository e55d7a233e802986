"""Several worker processes behind one port, each new connection sent to the workers with room.

uvicorn's own ``--workers`` shares one listening socket among the workers, and whichever worker
wakes first accepts the connection. A call's media socket then stays in that worker for the
whole call, so calls pile up where the accept race went: 50 calls over two workers split 29/21
run after run on the 2-core box (the dialing worker, busy dialing, loses the race), and the
busier worker is the one that runs out of time for its calls' audio.

Here each worker listens on a socket of its own, all bound to the one port with ``SO_REUSEPORT``;
the kernel picks the socket for each new connection by running a small classic BPF program
(``SO_ATTACH_REUSEPORT_CBPF``, Linux 4.5+). The supervisor keeps that program current: every
worker publishes its open media sockets and a heartbeat on a ``LoadBoard`` (a small file the
processes map), and new connections go to the workers with the fewest (a random one of them,
drawn by the program); a worker that stops heartbeating gets none. A worker publishes as its count
changes, and the supervisor reads the board every 10 ms, so calls placed further apart than that
split evenly; a burst inside one reading goes to the
emptiest worker of that moment, and the next reading corrects.

A node drains as one (``services.drain``): on SIGTERM the supervisor marks the board "node
draining" and passes the signal to every worker. A worker takes itself out of the steering while
it drains (new media sockets go to a worker still serving, if there is one), and one that has
drained keeps accepting (API, carrier callbacks, ``/readyz``'s 503) until every other worker has
drained too; then each marks its slot closed, which the steering drops, and exits. The steering
runs until the supervisor itself is done: a worker that stopped accepting is never sent a
connection, which would otherwise wait unanswered in its socket's queue (the supervisor holds
every socket of the group open) until the node exited.

Where the platform lacks any of this (another OS), ``callwright serve`` keeps uvicorn's shared
socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import mmap
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path

from uvicorn import Config, Server
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from callwright import metrics

log = logging.getLogger("callwright.balancer")

SO_ATTACH_REUSEPORT_CBPF = 51  # include/uapi/asm-generic/socket.h
# Classic BPF: load a word from the kernel's ancillary "random" field, compare, return.
_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20
_BPF_JMP_JGE_K = 0x05 | 0x30 | 0x00
_BPF_RET_K = 0x06 | 0x00
_SKF_AD_RANDOM = (-0x1000 + 56) & 0xFFFFFFFF

WORKER_SLOT_ENV = "CALLWRIGHT_WORKER_SLOT"
LOAD_BOARD_ENV = "CALLWRIGHT_LOAD_BOARD"
HEARTBEAT_EVERY_SECS = 0.5
STEER_EVERY_SECS = 0.01
STALE_AFTER_SECS = 2.0
HOLD_POLL_SECS = 0.05


class SlotState(IntEnum):
    """A worker's part in its node's drain, on the board."""

    SERVING = 0
    DRAINING = 1  # SIGTERM: not ready, no new media socket; its live calls run on
    DRAINED = 2  # no live call left; still accepting while the rest of the node drains
    CLOSED = 3  # stopped accepting connections: steer none here


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def steering_program(weights: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """A classic BPF program choosing socket ``i`` of a reuseport group with probability
    ``weights[i] / sum(weights)``. All weights zero: it returns an index past the group, and the
    kernel falls back to its own hash."""
    total = sum(weights)
    if total <= 0:
        return [(_BPF_RET_K, 0, 0, len(weights))]
    program = [(_BPF_LD_W_ABS, 0, 0, _SKF_AD_RANDOM)]
    chosen = [i for i, weight in enumerate(weights) if weight > 0]
    cumulative = 0
    for index in chosen[:-1]:
        cumulative += weights[index]
        threshold = cumulative * 2**32 // total
        # A >= threshold: skip this return, on to the next worker's.
        program += [(_BPF_JMP_JGE_K, 1, 0, threshold), (_BPF_RET_K, 0, 0, index)]
    program.append((_BPF_RET_K, 0, 0, chosen[-1]))
    return program


def attach_steering(sock: socket.socket, weights: Sequence[int]) -> None:
    """Sets the program of ``sock``'s reuseport group (any member's socket will do)."""
    program = steering_program(weights)
    filters = (_SockFilter * len(program))(*program)  # type: ignore[misc]  # tuples fill the struct fields
    fprog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))


def reuseport_group(host: str, port: int, count: int, *, backlog: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, in one reuseport group; a socket's index in
    the group is its index here (sockets join it as they start listening).

    The port must be free: a plain socket binds it first, so a server already on it (with or
    without ``SO_REUSEPORT``) makes this fail rather than share its traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.set_inheritable(True)
        attach_steering(sockets[0], [1] * count)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class LoadBoard:
    """Each worker's live calls, drain state and last heartbeat, and whether the node is
    draining, in a file every process maps."""

    # live calls, SlotState, the owning worker's pid (0: anyone), heartbeat (time.monotonic(),
    # machine-wide)
    _SLOT = struct.Struct("<IIi4xd")
    _CALLS = struct.Struct("<I")
    _OWNER = struct.Struct("<i")
    _OWNER_AT = 8
    _BEAT = struct.Struct("<d")
    _BEAT_AT = 16
    _NODE = struct.Struct("<I12x")  # after the slots: 1 once the node drains

    def __init__(self, path: Path, slots: int | None = None, *, create: bool = False) -> None:
        """``slots``: needed to create the board; a worker's view may take the file's own."""
        self.path = path
        flags = os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if slots is None:
                slots = (os.fstat(fd).st_size - self._NODE.size) // self._SLOT.size
            self.slots = slots
            size = slots * self._SLOT.size + self._NODE.size
            if create:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    def claim(self, slot: int) -> None:
        """This process owns ``slot`` now (a new worker in it): one it replaced (SIGHUP's
        restart) writes there no more."""
        self._OWNER.pack_into(self._map, slot * self._SLOT.size + self._OWNER_AT, os.getpid())

    def _owned(self, slot: int) -> bool:
        owner = self._OWNER.unpack_from(self._map, slot * self._SLOT.size + self._OWNER_AT)[0]
        return owner in (0, os.getpid())

    def publish(self, slot: int, calls: int, *, at: float | None = None) -> None:
        """A worker's live calls and heartbeat (its state is left as it is)."""
        if not self._owned(slot):
            return
        beat = time.monotonic() if at is None else at
        offset = slot * self._SLOT.size
        self._CALLS.pack_into(self._map, offset, calls)
        self._BEAT.pack_into(self._map, offset + self._BEAT_AT, beat)

    def set_state(self, slot: int, state: SlotState) -> None:
        if self._owned(slot):
            self._CALLS.pack_into(self._map, slot * self._SLOT.size + self._CALLS.size, state)

    def read(self) -> list[tuple[int, float]]:
        """Each worker's (live calls, heartbeat)."""
        return [(calls, beat) for calls, _, beat in self.slots_read()]

    def states(self) -> list[SlotState]:
        return [SlotState(state) for _, state, _ in self.slots_read()]

    def slots_read(self) -> list[tuple[int, int, float]]:
        """Each worker's (live calls, state, heartbeat)."""
        slots = (self._SLOT.unpack_from(self._map, i * self._SLOT.size) for i in range(self.slots))
        return [(calls, state, beat) for calls, state, _, beat in slots]

    def mark_node_draining(self) -> None:
        self._NODE.pack_into(self._map, self.slots * self._SLOT.size, 1)

    def node_draining(self) -> bool:
        return bool(self._NODE.unpack_from(self._map, self.slots * self._SLOT.size)[0])

    def weights(self, *, now: float | None = None) -> list[int]:
        """Which workers new connections go to (the program draws among them): those with the
        fewest calls, of the ones that heartbeat within ``STALE_AFTER_SECS`` and accept
        connections, the ones not draining first (only they take new calls)."""
        now = time.monotonic() if now is None else now
        board = self.slots_read()
        accepting = [
            now - beat <= STALE_AFTER_SECS and state != SlotState.CLOSED for _, state, beat in board
        ]
        serving = [ok and state == SlotState.SERVING for ok, (_, state, _) in zip(accepting, board, strict=True)]
        chosen = serving if any(serving) else accepting
        fewest = min((calls for (calls, _, _), ok in zip(board, chosen, strict=True) if ok), default=0)
        return [int(ok and calls == fewest) for (calls, _, _), ok in zip(board, chosen, strict=True)]

    def node_drained(self, *, now: float | None = None) -> bool:
        """Every worker has drained, stopped accepting or stopped heartbeating (it is gone)."""
        now = time.monotonic() if now is None else now
        return all(
            state in (SlotState.DRAINED, SlotState.CLOSED) or now - beat > STALE_AFTER_SECS
            for _, state, beat in self.slots_read()
        )

    def close(self) -> None:
        self._map.close()


def worker_board() -> tuple[LoadBoard, int] | None:
    """In a worker of ``serve_balanced``: the board and this worker's slot on it."""
    slot, path = os.environ.get(WORKER_SLOT_ENV), os.environ.get(LOAD_BOARD_ENV)
    if slot is None or path is None:
        return None
    board = LoadBoard(Path(path))
    return board, int(slot)


async def hold_while_node_drains(board: LoadBoard, slot: int, *, timeout_secs: float) -> None:
    """A drained worker's wait: while its node drains, it keeps accepting connections until every
    other worker has drained too (at most ``timeout_secs``), so none is steered to a socket that
    nobody accepts from. A worker drained alone (SIGTERM sent to it, not to the node) does not
    wait: the supervisor starts another on its socket."""
    board.set_state(slot, SlotState.DRAINED)
    deadline = time.monotonic() + timeout_secs
    # The board is memory shared with other processes: it is read, there is no event to await.
    while board.node_draining() and not board.node_drained() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(HOLD_POLL_SECS)


class DrainingProcess(Process):
    """uvicorn's worker process, its server a ``DrainingServer``: SIGTERM drains it first."""

    @property
    def server(self) -> Server:
        if self._server is None:
            from callwright.serving import DrainingServer

            self._server = DrainingServer(config=self.config)
        return self._server


class BalancedMultiprocess(Multiprocess):
    """uvicorn's supervisor, each worker given its own socket of the group (the one in its slot,
    kept across restarts) while a thread steers new connections by the board."""

    def __init__(self, config: Config, sockets: list[socket.socket], board: LoadBoard) -> None:
        super().__init__(config, sockets)
        self.board = board
        self._weights: list[int] | None = None

    def _worker(self, slot: int) -> Process:
        os.environ[WORKER_SLOT_ENV] = str(slot)  # a spawned worker takes the environment as is
        try:
            process = DrainingProcess(self.config, [self.sockets[slot]])
            process.start()
        finally:
            os.environ.pop(WORKER_SLOT_ENV, None)
        return process

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self._worker(slot))

    def restart_all(self) -> None:
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._worker(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error(
                        "worker [%s] was not ready in time; keeping worker [%s], restart aborted",
                        new.pid, old.pid,
                    )  # fmt: skip
                return
            old.terminate()
            old.join()
            metrics.worker_exited(old.pid)
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        # uvicorn's, but a dead worker's replacement listens on its slot's socket.
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or already gone
            process.join()
            metrics.worker_exited(process.pid)
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving: the app or the socket is broken, and would fail the
                # same way on every restart.
                log.error("worker [%s] failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("worker [%s] died; starting another on its socket", process.pid)
            self.processes[slot] = self._worker(slot)

    def terminate_all(self) -> None:
        self.board.mark_node_draining()  # before any worker hears of it
        super().terminate_all()

    def run(self) -> None:
        # The steering outlives ``should_exit``: while the workers drain, connections must keep
        # going to the ones still accepting.
        done = threading.Event()
        steering = threading.Thread(target=self._steer, args=(done,), name="steering", daemon=True)
        steering.start()
        try:
            super().run()
        finally:
            done.set()
            steering.join()

    def _steer(self, done: threading.Event) -> None:
        while not done.wait(STEER_EVERY_SECS):
            weights = self.board.weights()
            if weights != self._weights:
                try:
                    attach_steering(self.sockets[0], weights)
                    self._weights = weights
                except OSError as exc:  # pragma: no cover - attached once at start already
                    log.warning("could not steer connections: %s", exc)


async def publish_load(
    board: LoadBoard, slot: int, live_calls: Callable[[], int], changed: asyncio.Event
) -> None:
    """A worker's side, until cancelled: its live calls on the board whenever ``changed`` is set,
    and at least every ``HEARTBEAT_EVERY_SECS`` as its heartbeat."""
    board.claim(slot)  # a new worker in the slot of one that left, or that is draining
    board.set_state(slot, SlotState.SERVING)
    while True:
        changed.clear()
        board.publish(slot, live_calls())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), HEARTBEAT_EVERY_SECS)


def balancing_supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def serve_balanced(config: Config, board_path: Path) -> None:
    """``config.workers`` uvicorn workers on ``config.host:config.port``, connections steered to
    the least busy. Exits as uvicorn does when the port cannot be had."""
    try:
        sockets = reuseport_group(config.host, config.port, config.workers, backlog=config.backlog)
    except OSError as exc:
        logging.getLogger("uvicorn.error").error(exc)
        sys.exit(STARTUP_FAILURE)
    board_path = board_path.resolve()
    board_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    board = LoadBoard(board_path, config.workers, create=True)
    os.environ[LOAD_BOARD_ENV] = str(board_path)
    port = sockets[0].getsockname()[1]
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on http://%s:%d with %d workers, each new connection steered to the "
        "least busy (Press CTRL+C to quit)",
        config.host, port, config.workers,
    )  # fmt: skip
    try:
        BalancedMultiprocess(config, sockets, board).run()
    finally:
        for sock in sockets:
            sock.close()
        board.close()
