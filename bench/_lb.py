"""A small round-robin TCP load balancer for a local cluster (not a benchmark itself).

What ``scripts/cluster.py`` puts in front of its two server replicas, and what
``bench/replicas_load.py`` sends its clients through. It stands for the load balancer a real
deployment has (HAProxy, nginx, a cloud LB) and does what matters here the same way:

- **Layer 4, round robin per connection**, 127.0.0.1 only (it refuses to listen on or forward
  to any other address). A client's keep-alive connection stays on the replica it was given;
  the replicas share nothing but PostgreSQL and the bucket, so any replica can answer any
  request, and which one does is never visible to the client.
- **Health checks**: ``GET /health`` on every backend every ``interval`` seconds (``/health``
  touches neither the database nor the store: it says "this process serves"). ``fall``
  failures in a row take a backend out of rotation, ``rise`` successes put it back. A refused
  connection takes it out at once, and the connection is tried on the next backend (nothing
  was sent yet, so that retry is always safe).
- **No backend**: the client gets ``503`` with ``Retry-After: 1`` (as HAProxy and nginx do).
- **A backend dies mid-request**: its connections end (the kernel resets them), and the
  balancer closes the client's side. The request's outcome is unknown to the balancer, so it
  is never replayed here: the *client* retries it, because it knows which requests are
  idempotent (``photoark.client.transport``: part PUTs and confirmations, commits, bundles,
  album adds, trash moves and marks are idempotent on the server; creations carry a
  client-chosen idempotency key; anything else is retried only when the connection was never
  made). The retry opens a new connection, which the balancer gives to a live replica.

It also times each HTTP/1.1 request it carries, without parsing bodies: on one connection a
client (httpx) sends a request only after it has read the previous answer, so the first bytes
from the client after an answer began are the next request line, and the first bytes back
are its status line. ``Request.seconds`` is request line in → status line out: the server's
time for the request plus the transfer of its body. Good enough for percentiles of commit
latency; a request line split across two reads is not timed.

    python bench/_lb.py --port 8080 18081 18082     # forward :8080 to two local ports
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Backend", "LoadBalancer", "LoadBalancerThread", "Request"]

LOOPBACK = "127.0.0.1"
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,7}) (\S+) HTTP/1\.[01]\r\n")
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})")
_NO_BACKEND_BODY = b'{"code":"unavailable","message":"no server replica is up","details":{}}'
_NO_BACKEND = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_NO_BACKEND_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _NO_BACKEND_BODY
)


@dataclass
class Backend:
    """One server replica behind the balancer."""

    port: int
    name: str = ""
    up: bool = True  # in rotation
    ok_streak: int = 0
    fail_streak: int = 0
    connections: int = 0  # given to it, in all
    open_connections: int = 0
    bytes_in: int = 0  # client -> backend, in all
    bytes_out: int = 0  # backend -> client, in all
    events: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), "down"/"up")

    def __post_init__(self) -> None:
        self.name = self.name or f"{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class Request:
    """One HTTP request carried: its method, path, status, backend and timing."""

    method: str
    path: str
    status: int
    backend: str
    started: float  # time.time() when its request line came in
    seconds: float  # request line in -> status line out


class LoadBalancer:
    """The balancer, on the running event loop (:meth:`start`, :meth:`stop`)."""

    def __init__(
        self,
        backends: Sequence[int | Backend],
        *,
        port: int = 0,
        interval: float = 0.5,
        timeout: float = 2.0,
        rise: int = 2,
        fall: int = 2,
        connect_timeout: float = 2.0,
        on_change: Callable[[Backend, str], None] | None = None,
    ) -> None:
        self.backends = [b if isinstance(b, Backend) else Backend(b) for b in backends]
        if not self.backends:
            raise ValueError("no backend")
        self.port = port
        self.interval, self.timeout = interval, timeout
        self.rise, self.fall = rise, fall
        self.connect_timeout = connect_timeout
        self.on_change = on_change
        self.requests: list[Request] = []
        self.refused = 0  # client connections answered 503: no backend up
        self._next = 0
        self._server: asyncio.Server | None = None
        self._checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._checker = asyncio.create_task(self._check_loop())

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- rotation --------------------------------------------------------------------------

    def _mark(self, backend: Backend, up: bool) -> None:
        if backend.up == up:
            return
        backend.up = up
        what = "up" if up else "down"
        backend.events.append((time.time(), what))
        if self.on_change is not None:
            self.on_change(backend, what)

    def _rotation(self) -> list[Backend]:
        """The backends in rotation, starting with the next one in round-robin order; every
        backend when none is in rotation (as nginx does: a check that failed under load
        must not turn the whole service away; a dead one refuses the connection at once)."""
        n = len(self.backends)
        order = [self.backends[(self._next + i) % n] for i in range(n)]
        self._next = (self._next + 1) % n
        return [b for b in order if b.up] or order

    async def _check_loop(self) -> None:
        while True:
            await asyncio.gather(*(self._check(b) for b in self.backends))
            await asyncio.sleep(self.interval)

    async def _check(self, backend: Backend) -> None:
        ok = False
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(LOOPBACK, backend.port)
                writer.write(
                    f"GET /health HTTP/1.1\r\nHost: {backend.name}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                await writer.drain()
                status = await reader.readline()
                ok = _STATUS_LINE.match(status) is not None and status.split()[1] == b"200"
        except (OSError, TimeoutError):
            ok = False
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if ok:
            backend.ok_streak, backend.fail_streak = backend.ok_streak + 1, 0
            if not backend.up and backend.ok_streak >= self.rise:
                self._mark(backend, True)
        else:
            backend.ok_streak, backend.fail_streak = 0, backend.fail_streak + 1
            if backend.up and backend.fail_streak >= self.fall:
                self._mark(backend, False)

    # -- connections -----------------------------------------------------------------------

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._proxy(client_r, client_w)
        finally:
            self._tasks.discard(task)
            client_w.close()
            with contextlib.suppress(OSError):
                await client_w.wait_closed()

    async def _connect(
        self,
    ) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the next backend in rotation that accepts one (a refusal takes
        that backend out at once and tries the next: nothing was sent)."""
        for backend in self._rotation():
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(LOOPBACK, backend.port)
            except (OSError, TimeoutError):
                backend.ok_streak, backend.fail_streak = 0, backend.fail_streak + 1
                self._mark(backend, False)
                continue
            return backend, reader, writer
        return None

    async def _proxy(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        connected = await self._connect()
        if connected is None:
            self.refused += 1
            with contextlib.suppress(OSError):
                client_w.write(_NO_BACKEND)
                await client_w.drain()
            return
        backend, server_r, server_w = connected
        backend.connections += 1
        backend.open_connections += 1
        timer = _Timer(backend, self.requests)
        up = asyncio.create_task(_pump(client_r, server_w, timer.upstream))
        down = asyncio.create_task(_pump(server_r, client_w, timer.downstream))
        try:
            # either side ending ends the exchange (HTTP/1.1: a closed backend connection
            # means no more answers on it; a closed client means no more requests)
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            backend.open_connections -= 1
            server_w.close()
            with contextlib.suppress(OSError):
                await server_w.wait_closed()


class _Timer:
    """Times the requests on one proxied connection (see the module docstring)."""

    def __init__(self, backend: Backend, sink: list[Request]) -> None:
        self.backend = backend
        self.sink = sink
        self.pending: tuple[str, str, float, float] | None = None  # method, path, wall, mono

    def upstream(self, data: bytes) -> None:
        self.backend.bytes_in += len(data)
        if self.pending is not None:
            return  # the body of the request in flight
        match = _REQUEST_LINE.match(data)
        if match is not None:
            method, path = match.group(1).decode(), match.group(2).decode(errors="replace")
            self.pending = (method, path.split("?", 1)[0], time.time(), time.monotonic())

    def downstream(self, data: bytes) -> None:
        self.backend.bytes_out += len(data)
        if self.pending is None:
            return  # the rest of an answer
        match = _STATUS_LINE.match(data)
        if match is None or match.group(1) == b"100":
            return
        method, path, wall, mono = self.pending
        self.pending = None
        status = int(match.group(1))
        seconds = time.monotonic() - mono
        self.sink.append(Request(method, path, status, self.backend.name, wall, seconds))


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Callable[[bytes], None]
) -> None:
    try:
        while data := await reader.read(1 << 16):
            seen(data)
            writer.write(data)
            await writer.drain()
    except OSError:
        pass


class LoadBalancerThread:
    """A :class:`LoadBalancer` on its own event loop in a daemon thread (for scripts and
    benches that are not asyncio programs). Read its figures after :meth:`stop`, or any time
    (lists are only appended to)."""

    def __init__(self, backends: Sequence[int | Backend], **kwargs: object) -> None:
        self.lb = LoadBalancer(backends, **kwargs)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="load-balancer", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.lb.start())
        except BaseException as err:
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> LoadBalancerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.lb.stop(), self._loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return self.lb.url

    @property
    def port(self) -> int:
        return self.lb.port

    def __enter__(self) -> LoadBalancerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (127.0.0.1)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between checks")
    parser.add_argument("backends", type=int, nargs="+", help="ports of the replicas")
    args = parser.parse_args()

    def changed(backend: Backend, what: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {backend.name} {what}", flush=True)

    async def run() -> None:
        lb = LoadBalancer(args.backends, port=args.port, interval=args.interval, on_change=changed)
        await lb.start()
        print(f"listening on {lb.url} -> {', '.join(b.name for b in lb.backends)}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await lb.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
