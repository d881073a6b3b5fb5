"""MCP load benchmark: our server against the official SDK anchor and django-mcp-server, in one run.

    cd /work/main && .venv/bin/python bench/mcp_load.py [--requests 3000] [--tool NAME --tool-args JSON]

What it does (see bench/README.md for what each figure means and the goals):

1. Prepares our server: the database (``DATABASE_URL``, else a throwaway SQLite file), ``manage.py
   migrate``, a bench user with a token, then ``uvicorn config.asgi:application`` with the production
   settings on 127.0.0.1 and a free port (``REDIS_URL`` is passed through when set).
2. Load with an aiohttp client: handshake once per worker, then N requests shared by C workers, each
   worker sending one request at a time; for ``tools/list`` and a cheap ``tools/call``; over
   Streamable HTTP (legacy era: initialize + session; modern era 2026-07-28: stateless ``_meta``
   requests with the routing headers) and WebSocket (``/mcp``, subprotocol ``mcp``, one connection
   per worker).
3. The same HTTP workload against ``bench/anchor_sdk_server.py`` (official SDK ``mcp`` 2.3.0) and
   against django-mcp-server 0.5.7 (``bench/djmcp_project`` in its own virtualenv
   ``bench/.venv-djmcp``, created on first use or with ``--setup``).
4. 1,000 idle WebSocket sessions against a fresh server process: its RSS before and after.

Everything listens on 127.0.0.1 only; every request has a timeout; every process started here is
terminated at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = Path(sys.executable)
VENV_BIN = PYTHON.parent
DJMCP_VENV = BENCH / ".venv-djmcp"
DJMCP_REQUIREMENTS = ["django-mcp-server==0.5.7", "mcp<2", "uvicorn"]

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
PROTOCOL_META = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
CLIENT_INFO = {"name": "callmcp-bench", "version": "1"}
ACCEPT = "application/json, text/event-stream"
NAMED = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}
BENCH_USER = "mcp-bench"


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A server subprocess on 127.0.0.1; its output goes to ``log``."""

    name: str
    argv: list[str]
    port: int
    log: Path
    env: dict[str, str]
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str, timeout: float = 60) -> None:
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv, cwd=self.cwd, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    sock.sendall(f"GET {ready_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                    if sock.recv(16).startswith(b"HTTP/"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log_file", None) is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_checked(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> str:
    done = subprocess.run(  # noqa: S603 - our own argv
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-3000:]
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{output}")
    return done.stdout


# --- our server -----------------------------------------------------------------------------------

USER_SCRIPT = """
from datetime import timedelta
from users import scopes
from users.models import User
from users.services import token_for_user, user_create
user = User.objects.filter(username={username!r}).first()
if user is None:
    user = user_create(username={username!r}, password=None, scopes=list(scopes.ALL_SCOPES))
user.scopes = list(scopes.ALL_SCOPES)
user.is_active = True
# The documented per-user override (admin: rate limits) so the load is not answered 429.
user.rate_limits = {{"read": "100000000/minute", "place": "100000000/minute"}}
user.save()
print("BENCH_TOKEN=" + token_for_user(user=user, lifetime=timedelta(days=1)))
# One finished call of the bench user, for a one-row read such as getCallDetails {{"call_id": "{{call_id}}"}}.
from calls.models import Call, CallStatus
call = Call.objects.filter(owner=user).order_by("created_at").first() or Call.objects.create(
    owner=user, to_number="+12125550100", task="Say hello.", max_duration=1, status=CallStatus.COMPLETED,
    answered_by="human", duration_seconds=42, cost_credits=10, summary="The callee said hello.",
    transcript=[{{"speaker": "agent", "text": "Hello!"}}, {{"speaker": "callee", "text": "Hi."}}])
print("BENCH_CALL=" + str(call.id))
"""


def ours_env(tmp: Path) -> dict[str, str]:
    """Production settings when Redis is given (production refuses to start without it); otherwise the base
    settings with DEBUG off, on a throwaway SQLite file and the in-memory channel layer."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    production = bool(os.environ.get("REDIS_URL"))
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production" if production else "config.settings.base",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:9",  # no webhooks in this bench
    )
    env.pop("JWT_SIGNING_KEY", None)  # production signs with SECRET_KEY then; the token is minted with the same
    return env


def prepare_ours(env: dict[str, str]) -> tuple[str, str]:
    """The bench user's token and the id of one of its calls."""
    python = str(PYTHON)
    run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, timeout=600)
    out = run_checked(
        [python, "manage.py", "shell", "-c", USER_SCRIPT.format(username=BENCH_USER)], env=env, cwd=ROOT, timeout=300
    )
    match = re.search(r"BENCH_TOKEN=(\S+)", out)
    call = re.search(r"BENCH_CALL=(\S+)", out)
    if not match or not call:
        raise RuntimeError(f"no token or call in manage.py shell output:\n{out[-2000:]}")
    return match.group(1), call.group(1)


def ours_server(env: dict[str, str], tmp: Path, tag: str) -> Server:
    port = free_port()
    argv = [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning"]
    return Server(f"callmcp ({tag})", argv, port, tmp / f"ours-{tag}.log", env)


def ours_echo_server(env: dict[str, str], tmp: Path) -> Server:
    """The same ASGI app as the conformance server (``manage.py mcp_conformance_server``, which runs it with
    ``config.settings.conformance``): the gateway with a trivial fixture tool and an anonymous caller, for a
    tools/call like-for-like with the anchors' echo."""
    env = {**env, "MCP_RATE_LIMIT_READ": "100000000/minute"}
    port = free_port()
    argv = [str(PYTHON), "manage.py", "mcp_conformance_server", "--port", str(port)]
    return Server("callmcp (echo)", argv, port, tmp / "ours-echo.log", env)


# --- the comparison servers -----------------------------------------------------------------------


def sdk_server(tmp: Path, tools_file: Path | None = None) -> Server:
    """The SDK anchor; with ``tools_file`` (our tools/list), its tools/list answers our definitions."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    argv = [str(PYTHON), str(BENCH / "anchor_sdk_server.py"), "--port", str(port)]
    if tools_file is None:
        return Server("official SDK 2.3 anchor", argv, port, tmp / "sdk.log", env)
    return Server("official SDK 2.3 anchor, our tools", [*argv, "--tools-file", str(tools_file)], port,
                  tmp / "sdk-tools.log", env)


def ensure_djmcp_venv(force: bool) -> Path:
    """django-mcp-server needs ``mcp<2``: it gets its own virtualenv, made once (or again with --setup)."""
    python = DJMCP_VENV / "bin" / "python"
    marker = DJMCP_VENV / ".installed"
    if force and DJMCP_VENV.exists():
        shutil.rmtree(DJMCP_VENV)
    if not marker.exists():
        print(f"# creating {DJMCP_VENV.relative_to(ROOT)} with {' '.join(DJMCP_REQUIREMENTS)} ...", flush=True)
        base = shutil.which("python3") or sys.executable
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        run_checked([base, "-m", "venv", "--clear", str(DJMCP_VENV)], env=env, cwd=BENCH, timeout=300)
        run_checked([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     *DJMCP_REQUIREMENTS], env=env, cwd=BENCH, timeout=900)
        marker.write_text(" ".join(DJMCP_REQUIREMENTS) + "\n")
    return python


def djmcp_server(tmp: Path, force_setup: bool) -> Server:
    python = ensure_djmcp_venv(force_setup)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.update(DJANGO_SETTINGS_MODULE="djmcp_project.settings", DJMCP_SQLITE=str(tmp / "djmcp.sqlite3"),
               SECRET_KEY=secrets.token_urlsafe(50))
    run_checked([str(python), "-m", "django", "migrate", "--noinput", "-v0"], env=env, cwd=BENCH, timeout=300)
    port = free_port()
    argv = [str(python.parent / "uvicorn"), "djmcp_project.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning"]
    return Server("django-mcp-server 0.5.7", argv, port, tmp / "djmcp.log", env, cwd=BENCH)


# --- the client -----------------------------------------------------------------------------------


class RequestFailed(Exception):
    """One request's answer was not a successful result; ``str()`` is the error kind."""


def parse_answer(status: int, content_type: str, body: bytes, request_id: int) -> dict[str, Any]:
    """The JSON-RPC answer to ``request_id`` from a JSON or SSE body; raises ``RequestFailed``. Parsed
    with orjson (a 51 KB tools/list: ~230 us against ~350 us for ``json``): the client shares the cores
    with the server, so what it spends is taken from what it measures."""
    answer: Any = None
    if content_type.startswith("text/event-stream"):
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("data:") and line[5:].strip():
                with contextlib.suppress(ValueError):
                    message = orjson.loads(line[5:])
                    if isinstance(message, dict) and message.get("id") == request_id:
                        answer = message
    elif body:
        try:
            answer = orjson.loads(body)
        except ValueError:
            raise RequestFailed(f"HTTP {status} non-JSON {body[:60]!r}") from None
    return checked_answer(status, answer)


def checked_answer(status: int, answer: Any) -> dict[str, Any]:
    """The parsed answer if it is a successful result; raises ``RequestFailed`` with the error kind."""
    if not isinstance(answer, dict):
        raise RequestFailed(f"HTTP {status} no answer")
    if "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) else {}
        raise RequestFailed(f"HTTP {status} JSON-RPC {error.get('code')}: {str(error.get('message'))[:80]}")
    if status != 200:
        raise RequestFailed(f"HTTP {status}")
    result = answer.get("result")
    if not isinstance(result, dict):
        raise RequestFailed("no result")
    if result.get("isError"):
        text = "".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
        raise RequestFailed(f"isError: {text[:80]}")
    return answer


def header_value(value: str) -> str:
    if value.isascii() and value.isprintable() and value == value.strip():
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


@dataclass
class Target:
    """One server to load: where it is and what its cheap tool is."""

    name: str
    http_url: str
    token: str | None
    tool: str
    tool_args: dict[str, Any]
    ws_url: str | None = None
    pid: int | None = None  # the server process, for its CPU time per request

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def call(self, method: str) -> tuple[str, dict[str, Any]]:
        if method == "tools/call":
            return method, {"name": self.tool, "arguments": self.tool_args}
        return method, {}


@dataclass
class Channel:
    """A handshaken client: sends one request, returns the answer (raises ``RequestFailed``)."""

    request: Callable[[int], Awaitable[dict[str, Any]]]
    close: Callable[[], Awaitable[None]]


class Body:
    """A request body as bytes with the id spliced in: no JSON encoding per request on the client."""

    def __init__(self, method: str, params: dict[str, Any]) -> None:
        text = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 0}, separators=(",", ":"))
        assert text.endswith(',"id":0}')
        self._head = text[: -len('0}')].encode()

    def __call__(self, request_id: int) -> bytes:
        return self._head + str(request_id).encode() + b"}"


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], request_id: int
               ) -> tuple[dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(url, data=body, headers=headers) as response:
        raw = await response.read()
        return parse_answer(response.status, response.headers.get("Content-Type", ""), raw, request_id), response


async def http_channel(http: aiohttp.ClientSession, target: Target, era: str, method: str) -> Channel:
    base = {"Content-Type": "application/json", "Accept": ACCEPT, **target.auth()}
    name, params = target.call(method)
    if era == "legacy":
        init = Body("initialize", {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO})
        answer, response = await post(http, target.http_url, init(0), base, 0)
        headers = {**base, "MCP-Protocol-Version": answer["result"]["protocolVersion"]}
        if session_id := response.headers.get("Mcp-Session-Id"):
            headers["Mcp-Session-Id"] = session_id
        note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
        async with http.post(target.http_url, data=note, headers=headers) as reply:
            await reply.read()
            if reply.status not in (200, 202):
                raise RequestFailed(f"notifications/initialized: HTTP {reply.status}")
        body = Body(name, params)
    else:
        meta = {PROTOCOL_META: MODERN_VERSION, CAPABILITIES_META: {}, CLIENT_INFO_META: CLIENT_INFO}
        discover = Body("server/discover", {"_meta": meta})
        await post(http, target.http_url, discover(0),
                   {**base, "MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": "server/discover"}, 0)
        headers = {**base, "MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": name}
        if name in NAMED:
            headers["Mcp-Name"] = header_value(str(params[NAMED[name]]))
        body = Body(name, {**params, "_meta": meta})

    async def request(request_id: int) -> dict[str, Any]:
        return (await post(http, target.http_url, body(request_id), headers, request_id))[0]

    async def close() -> None:
        if "Mcp-Session-Id" in headers:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.delete(target.http_url, headers=headers) as reply:
                    await reply.read()

    return Channel(request, close)


async def ws_open(http: aiohttp.ClientSession, target: Target, timeout: float) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket connection with the legacy handshake done (initialize + notifications/initialized)."""
    assert target.ws_url is not None
    ws = await asyncio.wait_for(
        http.ws_connect(target.ws_url, protocols=("mcp",), headers=target.auth(), autoping=True, heartbeat=None),
        timeout,
    )
    try:
        init = Body("initialize", {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO})
        await ws.send_str(init(0).decode())
        await ws_answer(ws, 0, timeout)
        await ws.send_str('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    except BaseException:
        await ws.close()
        raise
    return ws


async def ws_answer(ws: aiohttp.ClientWebSocketResponse, request_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = await ws.receive(timeout=max(0.001, deadline - time.monotonic()))
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RequestFailed(f"WebSocket {message.type.name} {message.data!r}"[:100])
        answer = orjson.loads(message.data)  # once: the answer is checked as parsed
        if isinstance(answer, dict) and answer.get("id") == request_id and "method" not in answer:
            return checked_answer(200, answer)


async def ws_channel(http: aiohttp.ClientSession, target: Target, method: str, timeout: float) -> Channel:
    ws = await ws_open(http, target, timeout)
    body = Body(*target.call(method))

    async def request(request_id: int) -> dict[str, Any]:
        await ws.send_str(body(request_id).decode())
        return await ws_answer(ws, request_id, timeout)

    async def close() -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), timeout)

    return Channel(request, close)


@dataclass
class Result:
    target: str
    transport: str
    era: str
    method: str
    concurrency: int
    tool: str = ""
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    skipped: str = ""
    server_cpu: float = 0.0  # CPU seconds the server process spent on the measured requests
    client_cpu: float = 0.0  # CPU seconds the client process(es) spent on them

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of server CPU: what one busy core serves, whoever else shares the machine."""
        return self.requests / self.server_cpu if self.server_cpu else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def drive(channels: list[Channel], count: int, result: Result | None, start_id: int) -> None:
    """``count`` requests shared by the channels (one worker each, one request at a time)."""
    remaining = iter(range(start_id, start_id + count))

    async def worker(channel: Channel) -> None:
        for request_id in remaining:
            started = time.perf_counter()
            try:
                await channel.request(request_id)
            except (RequestFailed, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                if result is not None:
                    result.errors[str(exc) or type(exc).__name__] += 1
                continue
            if result is not None:
                result.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in channels))
    if result is not None:
        result.seconds = time.perf_counter() - started
        result.requests = count


async def run_case(target: Target, transport: str, era: str, method: str, concurrency: int,
                   args: argparse.Namespace, barrier: Any = None) -> Result:
    result = Result(target.name, transport, era, method, concurrency, target.tool)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        channels: list[Channel] = []
        try:
            opened = await asyncio.gather(
                *(
                    ws_channel(http, target, method, args.timeout) if transport == "ws"
                    else http_channel(http, target, era, method)
                    for _ in range(concurrency)
                ),
                return_exceptions=True,
            )
            channels = [c for c in opened if isinstance(c, Channel)]
            failures = [c for c in opened if not isinstance(c, Channel)]
            if failures:
                result.skipped = f"handshake failed: {str(failures[0])[:90] or type(failures[0]).__name__}"
                return result
            await drive(channels, args.warmup, None, 1_000_000)
            if barrier is not None:  # one of several client processes: start together, the parent counts CPU
                await asyncio.to_thread(barrier.wait, args.timeout * 4)
            before, client_before = cpu_seconds(target.pid), time.process_time()
            await drive(channels, args.requests, result, 1)
            result.server_cpu = cpu_seconds(target.pid) - before
            result.client_cpu = time.process_time() - client_before
        finally:
            await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
    return result


def _child_case(target: Target, transport: str, era: str, method: str, concurrency: int, args: argparse.Namespace,
                barrier: Any, results: Any) -> None:
    """One client process of a case: its share of the workers and requests, measured between the barriers."""
    results.put(asyncio.run(run_case(target, transport, era, method, concurrency, args, barrier=barrier)))


def run_case_in_processes(target: Target, transport: str, era: str, method: str, concurrency: int,
                          args: argparse.Namespace) -> Result:
    """The case split over ``args.client_procs`` client processes (for when one client process is the
    bottleneck): all handshake and warm up, then all start the measured requests at once."""
    procs = min(args.client_procs, concurrency)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(procs + 1)
    queue = context.Queue()
    share = argparse.Namespace(**{**vars(args), "requests": args.requests // procs, "warmup": args.warmup // procs})
    children = [context.Process(target=_child_case, args=(target, transport, era, method, concurrency // procs,
                                                          share, barrier, queue)) for _ in range(procs)]
    for child in children:
        child.start()
    barrier.wait(timeout=args.timeout * 4)
    before = cpu_seconds(target.pid)
    parts = [queue.get(timeout=args.timeout * 20) for _ in children]
    server_cpu = cpu_seconds(target.pid) - before
    for child in children:
        child.join(timeout=args.timeout)
    merged = Result(target.name, transport, era, method, concurrency, target.tool, server_cpu=server_cpu)
    merged.skipped = next((p.skipped for p in parts if p.skipped), "")
    merged.requests = sum(p.requests for p in parts)
    merged.seconds = max(p.seconds for p in parts)
    merged.client_cpu = sum(p.client_cpu for p in parts)
    merged.latencies = [latency for p in parts for latency in p.latencies]
    for part in parts:
        merged.errors.update(part.errors)
    return merged


async def idle_sessions(target: Target, server: Server, count: int, timeout: float) -> dict[str, float]:
    """Open ``count`` WebSocket sessions (initialized, then idle) and read the server's RSS."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    gate = asyncio.Semaphore(64)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    failures: Counter[str] = Counter()

    async def open_one(http: aiohttp.ClientSession) -> None:
        async with gate:
            try:
                sockets.append(await ws_open(http, target, timeout))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures[str(exc)[:80] or type(exc).__name__] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), connector=connector) as http:
        try:
            # A little traffic first, so the baseline includes what the first requests load lazily.
            warm = await ws_channel(http, target, "tools/list", timeout)
            await drive([warm], 50, None, 1)
            await warm.close()
            await asyncio.sleep(1)
            before = rss_mb(server.pid)
            started = time.perf_counter()
            await asyncio.gather(*(open_one(http) for _ in range(count)))
            open_seconds = time.perf_counter() - started
            await asyncio.sleep(2)
            # Still alive? One ping on a few of them.
            for ws in sockets[:: max(1, len(sockets) // 10)]:
                await ws.send_str('{"jsonrpc":"2.0","id":7,"method":"ping"}')
                await ws_answer(ws, 7, timeout)
            after = rss_mb(server.pid)
            hwm = _status_kb(server.pid, "VmHWM") / 1024
        finally:
            await asyncio.gather(*(asyncio.wait_for(ws.close(), timeout) for ws in sockets), return_exceptions=True)
    if failures:
        print(f"  idle sessions: {sum(failures.values())} failed to open: {dict(failures.most_common(3))}")
    return {"opened": len(sockets), "before": before, "after": after, "hwm": hwm, "open_seconds": open_seconds}


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def start_profiler(server: Server, output: str, tmp: Path) -> subprocess.Popen[bytes]:
    """py-spy (``pip install py-spy``) sampling our server during its load, as collapsed stacks."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    log = (tmp / "py-spy.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - our own argv
        [spy, "record", "--pid", str(server.pid), "--rate", "100", "--format", "raw", "--nonblocking",
         "--output", output], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )


def stop_profiler(spy: subprocess.Popen[bytes], output: str) -> None:
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(timeout=10)
    print(f"# py-spy collapsed stacks of our server: {output}", flush=True)


# --- report ---------------------------------------------------------------------------------------

HEADER = (f"{'server':<26} {'transport':<9} {'era':<7} {'method':<26} {'c':>3} {'req/s':>8} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'srv cpu ms/req':>14} {'cli cpu ms/req':>14}")


def row(r: Result) -> str:
    method = r.method if r.method != "tools/call" else f"tools/call {r.tool}"
    head = f"{r.target:<26} {r.transport:<9} {r.era:<7} {method[:26]:<26} {r.concurrency:>3}"
    if r.skipped:
        return f"{head}  n/a: {r.skipped}"
    return (f"{head} {r.rps:>8.0f} {r.pct(0.50):>8.2f} {r.pct(0.95):>8.2f} {r.pct(0.99):>8.2f} "
            f"{sum(r.errors.values()):>7} {r.server_cpu * 1000 / max(1, r.requests):>14.3f} "
            f"{r.client_cpu * 1000 / max(1, r.requests):>14.3f}")


def find(results: list[Result], target: str, transport: str, era: str, method: str, c: int) -> Result | None:
    for r in results:
        if (r.target, r.transport, r.era, r.method, r.concurrency) == (target, transport, era, method, c) and (
            not r.skipped
        ):
            return r
    return None


def verdict(ok: bool, goal: str, method: str) -> str:
    """PASS/FAIL where the comparison is like for like; our real tools/call (a database read) against
    an echo gets the figure and how it stands, but the goal's verdict belongs to the echo lines."""
    if method == "tools/call":
        return f"(our database-bound tool, not like for like: {'within' if ok else 'outside'} {goal})"
    return f"(goal {goal}: {'PASS' if ok else 'FAIL'})"


OURS, SDK, DJMCP, ECHO = "callmcp", "sdk-2.3-anchor", "django-mcp-server-0.5.7", "callmcp-echo"
SDK_TOOLS = "sdk-2.3-our-tools"  # the anchor serving our tools/list (target sdk-tools): like for like
ERAS = ("legacy", "modern")


def _echo_ratios(results: list[Result], c: int) -> Iterator[str]:
    """tools/call like-for-like: our gateway's trivial tool against their echo."""
    for era in ERAS:
        mine = find(results, ECHO, "http", era, "tools/call", c)
        for other, label, goal in ((SDK, "SDK", 0.5), (DJMCP, "django-mcp-server", 4.0)):
            theirs = find(results, other, "http", era, "tools/call", c)
            if mine and theirs:
                value = mine.rps / theirs.rps
                yield (f"ours (echo) / {label:<18} HTTP {era:<6} tools/call c={c}: {value:5.2f}x  "
                       f"{verdict(value >= goal, f'>= {goal}x', 'tools/list')}")
        if mine:
            p99 = mine.pct(0.99)
            yield f"ours (echo) p99 HTTP {era:<6} tools/call c={c}: {p99:6.2f} ms  {verdict(p99 < 50, '< 50 ms', '')}"
        theirs = find(results, SDK, "http", era, "tools/call", c)
        ws = find(results, ECHO, "ws", "legacy", "tools/call", c)
        if ws and theirs:
            value = ws.rps / theirs.rps
            yield (f"ours WS (echo) / SDK HTTP {era:<6} tools/call c={c}: {value:5.2f}x  "
                   f"{verdict(value >= 3, '>= 3x', '')}")


def _ours_ratios(results: list[Result], c: int, method: str) -> Iterator[str]:
    for era in ERAS:
        mine = find(results, OURS, "http", era, method, c)
        for other, label, goal in ((SDK, "SDK", 0.5), (DJMCP, "django-mcp-server", 4.0)):
            theirs = find(results, other, "http", era, method, c)
            if mine and theirs:
                value = mine.rps / theirs.rps
                yield (f"ours / {label:<18} HTTP {era:<6} {method:<10} c={c}: {value:5.2f}x  "
                       f"{verdict(value >= goal, f'>= {goal}x', method)}")
            else:
                yield f"ours / {label:<18} HTTP {era:<6} {method:<10} c={c}:   n/a"
    ws = find(results, OURS, "ws", "legacy", method, c)
    for era in ERAS:
        theirs = find(results, SDK, "http", era, method, c)
        if ws and theirs:
            value = ws.rps / theirs.rps
            yield (f"ours WS / SDK HTTP {era:<6}        {method:<10} c={c}: {value:5.2f}x  "
                   f"{verdict(value >= 3, '>= 3x', method)}")


def _like_for_like_lists(results: list[Result], c: int) -> Iterator[str]:
    """tools/list against the anchor serving the same list as ours (target sdk-tools): the same bytes for
    the client to read, so the ratio compares the servers. The issue's WebSocket figure (see bench/README.md)."""
    ws = find(results, OURS, "ws", "legacy", "tools/list", c)
    for era in ERAS:
        theirs = find(results, SDK_TOOLS, "http", era, "tools/list", c)
        mine = find(results, OURS, "http", era, "tools/list", c)
        if theirs and mine:
            value = mine.rps / theirs.rps
            yield (f"like for like: ours / SDK (our tools) HTTP {era:<6} tools/list c={c}: {value:5.2f}x  "
                   f"{verdict(value >= 0.5, '>= 0.5x', 'tools/list')}")
        if theirs and ws:
            value = ws.rps / theirs.rps
            yield (f"like for like: ours WS / SDK (our tools) HTTP {era:<6} tools/list c={c}: {value:5.2f}x  "
                   f"{verdict(value >= 3, '>= 3x', 'tools/list')}")
            if ws.per_cpu_second and theirs.per_cpu_second:
                value = ws.per_cpu_second / theirs.per_cpu_second
                yield (f"like for like, per server CPU-second: ours WS / SDK (our tools) HTTP {era:<6} "
                       f"tools/list c={c}: {value:5.2f}x  ({ws.per_cpu_second:,.0f} vs "
                       f"{theirs.per_cpu_second:,.0f} requests per CPU-second)")


def _cpu_ratios(results: list[Result], c: int) -> Iterator[str]:
    """The WebSocket comparison per second of server CPU: at these rates the one-process client can be the
    bottleneck (it is for WebSocket here), so this is what each server does with one busy core."""
    for method, name in (("tools/list", OURS), ("tools/call", ECHO)):
        ws = find(results, name, "ws", "legacy", method, c)
        for era in ERAS:
            theirs = find(results, SDK, "http", era, method, c)
            if ws and theirs and ws.per_cpu_second and theirs.per_cpu_second:
                value = ws.per_cpu_second / theirs.per_cpu_second
                label = "ours WS (echo)" if name != OURS else "ours WS"
                yield (f"per server CPU-second: {label} / SDK HTTP {era:<6} {method:<10} c={c}: {value:5.2f}x  "
                       f"({ws.per_cpu_second:,.0f} vs {theirs.per_cpu_second:,.0f} requests per CPU-second)")


def _tool_vs_list(results: list[Result], c: int) -> Iterator[str]:
    """Our tools/call against our own tools/list: what the tool adds (goal for a one-row read: within 1.5x)."""
    for transport, era in (("http", "legacy"), ("http", "modern"), ("ws", "legacy")):
        listed = find(results, OURS, transport, era, "tools/list", c)
        called = find(results, OURS, transport, era, "tools/call", c)
        if listed and called:
            value = listed.rps / called.rps
            yield (f"ours tools/list / tools/call {called.tool} {transport} {era:<6} c={c}: {value:5.2f}x  "
                   f"(goal for a one-row read: <= 1.5x: {'PASS' if value <= 1.5 else 'FAIL'})")


def _p99s(results: list[Result], c: int) -> Iterator[str]:
    for era in ERAS:
        for method in ("tools/list", "tools/call"):
            mine = find(results, OURS, "http", era, method, c)
            if mine:
                p99 = mine.pct(0.99)
                yield (f"ours p99 HTTP {era:<6} {method:<10} c={c}: {p99:6.2f} ms  "
                       f"{verdict(p99 < 50, '< 50 ms', method)}")


def ratios(results: list[Result], c: int) -> Iterator[str]:
    yield from _echo_ratios(results, c)
    for method in ("tools/list", "tools/call"):
        yield from _ours_ratios(results, c, method)
    yield from _cpu_ratios(results, c)
    yield from _like_for_like_lists(results, c)
    yield from _tool_vs_list(results, c)
    yield from _p99s(results, c)


def server_problems(server: Server) -> list[str]:
    try:
        text = server.log.read_text(errors="replace")
    except OSError:
        return []
    lines = text.splitlines()
    bad = [i for i, line in enumerate(lines) if re.search(r"\b(ERROR|CRITICAL|Traceback|Exception)\b", line)]
    return [lines[i][:200] for i in bad[:8]] + ([f"... {len(bad)} such lines in {server.log}"] if len(bad) > 8 else [])


# --- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per case (default 3000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests before each case")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated worker counts")
    parser.add_argument("--methods", default="tools/list,tools/call", help="which of tools/list, tools/call")
    parser.add_argument("--tool", default="getCallHistory", help="our cheap tool for tools/call")
    parser.add_argument("--tool-args", default='{"limit": 1}',
                        help='its arguments as JSON; "{call_id}" stands for a finished call of the bench user, '
                             'e.g. --tool getCallDetails --tool-args \'{"call_id": "{call_id}"}\'')
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request / handshake")
    parser.add_argument("--idle-sessions", type=int, default=1000, help="idle WebSocket sessions (0: skip)")
    parser.add_argument("--targets", default="ours,ours-echo,sdk,sdk-tools,djmcp",
                        help="which servers to load (ours-echo: our gateway with a trivial tool, tools/call only; "
                             "sdk-tools: the SDK anchor serving our tools/list, tools/list only)")
    parser.add_argument("--transports", default="http-legacy,http-modern,ws",
                        help="which of http-legacy, http-modern, ws (ws: ours only)")
    parser.add_argument("--setup", action="store_true", help="(re)create bench/.venv-djmcp first")
    parser.add_argument("--profile", metavar="FILE", help="py-spy our server during its load (collapsed stacks)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the server logs")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="client processes per case (workers and requests split between them; default 1)")
    return parser.parse_args()


class Bench:
    """One run: the servers it starts, the cases it loads, what it reports."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
        self.targets = {t.strip() for t in args.targets.split(",") if t.strip()}
        self.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        self.wanted = {t.strip() for t in args.transports.split(",") if t.strip()}
        self.tmp = Path(tempfile.mkdtemp(prefix="callmcp-bench-"))
        self.servers: list[Server] = []
        self.results: list[Result] = []
        self.idle: dict[str, float] | None = None
        self.env = ours_env(self.tmp)
        self.token = ""
        self.tool_args: dict[str, Any] = {}

    def case(self, target: Target, transport: str, era: str, method: str, c: int) -> Result:
        if self.args.client_procs > 1:
            return run_case_in_processes(target, transport, era, method, c, self.args)
        return asyncio.run(run_case(target, transport, era, method, c, self.args))

    def load(self, target: Target, transports: list[tuple[str, str]], only: list[str] | None = None) -> None:
        for transport, era in transports:
            if (transport if transport == "ws" else f"{transport}-{era}") not in self.wanted:
                continue
            for method in only or self.methods:
                for c in self.levels:
                    r = self.case(target, transport, era, method, c)
                    self.results.append(r)
                    print(row(r), flush=True)
                    for kind, n in r.errors.most_common(3):
                        print(f"{'':<30}error x{n}: {kind}", flush=True)

    def start(self, server: Server, ready_path: str) -> Server:
        self.servers.append(server)
        server.start(ready_path)
        return server

    def prepare(self) -> None:
        if self.targets & {"ours", "ours-echo", "sdk-tools"} or self.args.idle_sessions:
            self.token, call_id = prepare_ours(self.env)
            self.args.tool_args = self.args.tool_args.replace("{call_id}", call_id)
            db = self.env["DATABASE_URL"].split("@")[-1]
            print(f"# callmcp: {self.env['DJANGO_SETTINGS_MODULE']}, uvicorn, DB {db}, REDIS_URL "
                  f"{self.env.get('REDIS_URL') or '(none)'}", flush=True)
        self.tool_args = json.loads(self.args.tool_args)

    def ours(self, server: Server) -> Target:
        base = f"127.0.0.1:{server.port}"
        return Target(OURS, f"http://{base}/api/v1/mcp", self.token, self.args.tool, self.tool_args,
                      f"ws://{base}/mcp", server.pid)

    def our_tools(self, server: Server | None = None) -> Path:
        """Our tools/list as the bench user sees it (all scopes), in a file for the like-for-like anchor;
        fetched from ``server``, or from one started for it."""
        path = self.tmp / "our-tools.json"
        if path.exists():
            return path
        started = server is None
        server = server or self.start(ours_server(self.env, self.tmp, "tools"), "/healthz")

        async def fetch() -> list[Any]:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.args.timeout)) as http:
                channel = await http_channel(http, self.ours(server), "legacy", "tools/list")
                try:
                    return list((await channel.request(1))["result"]["tools"])
                finally:
                    await channel.close()

        tools = asyncio.run(fetch())
        if started:
            server.stop()
        path.write_bytes(orjson.dumps(tools))
        print(f"# our tools/list: {len(tools)} tools, {path.stat().st_size:,} bytes of definitions", flush=True)
        return path

    def run_ours(self) -> None:
        server = self.start(ours_server(self.env, self.tmp, "load"), "/healthz")
        if "sdk-tools" in self.targets:
            self.our_tools(server)
        spy = start_profiler(server, self.args.profile, self.tmp) if self.args.profile else None
        try:
            self.load(self.ours(server), [("http", "legacy"), ("http", "modern"), ("ws", "legacy")])
        finally:
            if spy is not None:
                stop_profiler(spy, self.args.profile)
        server.stop()

    def run_echo(self) -> None:
        server = self.start(ours_echo_server(self.env, self.tmp), "/healthz")
        base = f"127.0.0.1:{server.port}"
        target = Target(ECHO, f"http://{base}/api/v1/mcp", None, "test_simple_text", {}, f"ws://{base}/mcp",
                        server.pid)
        if "tools/call" in self.methods:
            self.load(target, [("http", "legacy"), ("http", "modern"), ("ws", "legacy")], ["tools/call"])
        server.stop()

    def run_anchor(self, server: Server, name: str, only: list[str] | None = None) -> None:
        self.start(server, "/mcp")
        target = Target(name, f"http://127.0.0.1:{server.port}/mcp", None, "echo", {"text": "hi"}, pid=server.pid)
        self.load(target, [("http", "legacy"), ("http", "modern")], only)
        server.stop()

    def run_idle(self) -> None:
        server = self.start(ours_server(self.env, self.tmp, "idle"), "/healthz")
        target = self.ours(server)
        self.idle = asyncio.run(idle_sessions(target, server, self.args.idle_sessions, self.args.timeout))
        server.stop()

    def run(self) -> None:
        self.prepare()
        if "ours" in self.targets:
            self.run_ours()
        if "ours-echo" in self.targets:
            self.run_echo()
        if "sdk" in self.targets:
            self.run_anchor(sdk_server(self.tmp), SDK)
        if "sdk-tools" in self.targets and "tools/list" in self.methods:
            self.run_anchor(sdk_server(self.tmp, self.our_tools()), SDK_TOOLS, ["tools/list"])
        if "djmcp" in self.targets:
            self.run_anchor(djmcp_server(self.tmp, self.args.setup), DJMCP)
        if self.args.idle_sessions:
            self.run_idle()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def report(self) -> None:
        print(f"\n# load average at the end (1 min): {os.getloadavg()[0]:.2f}")
        print(f"Ratios at c=16 (req/s over req/s; our tools/call is {self.args.tool} {self.args.tool_args}, "
              "theirs echo):")
        for line in ratios(self.results, 16 if 16 in self.levels else self.levels[-1]):
            print("  " + line)
        if self.idle is not None:
            idle = self.idle
            ok = "PASS" if idle["after"] < 300 and idle["opened"] == self.args.idle_sessions else "FAIL"
            per = (idle["after"] - idle["before"]) * 1024 / max(1, idle["opened"])
            print(f"\nIdle WebSocket sessions: {idle['opened']}/{self.args.idle_sessions} opened and initialized "
                  f"in {idle['open_seconds']:.1f} s; server RSS {idle['before']:.0f} MB before, {idle['after']:.0f} "
                  f"MB with them open ({per:.0f} KB per session; peak {idle['hwm']:.0f} MB); goal < 300 MB: {ok}")
        problems = {s.name: server_problems(s) for s in self.servers}
        if any(problems.values()):
            print("\nServer log lines that look like errors:")
            for name, lines in problems.items():
                for line in lines:
                    print(f"  [{name}] {line}")
        else:
            print("\nNo errors in the server logs.")


def main() -> int:
    bench = Bench(parse_args())
    args = bench.args
    print(f"# client: aiohttp {aiohttp.__version__}, {args.client_procs} client process(es), {os.cpu_count()} "
          f"cores shared with the server; n={args.requests}, warm-up {args.warmup}; logs in {bench.tmp}", flush=True)
    load_1m = os.getloadavg()[0]
    if load_1m > 0.5:
        print(f"# WARNING: load average {load_1m:.2f} before start: something else is using the CPU", flush=True)
    print(HEADER, flush=True)
    try:
        bench.run()
    finally:
        bench.stop()
    bench.report()
    if args.keep_logs:
        print(f"Logs kept in {bench.tmp}")
    else:
        shutil.rmtree(bench.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
