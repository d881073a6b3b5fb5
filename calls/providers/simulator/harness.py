"""The simulator on its own event loop in a daemon thread, for tests and in-process demos."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from calls.providers.simulator.account import Simulator
from calls.providers.simulator.options import DEFAULT_HOST, SimulatorOptions
from calls.providers.simulator.server import build_app, dispatch_ended, display_host


class BackgroundSimulator:
    """The simulator on its own event loop in a daemon thread, for tests and in-process demos::

        with BackgroundSimulator(time_scale=0) as sim:
            httpx.post(f"{sim.url}/v1/calls", ...)
            sim.advance(60)
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, **options: Any) -> None:
        self.host = host
        self.port = port
        self.simulator = Simulator(SimulatorOptions(**options))
        self._app = build_app(self.simulator)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="bland-simulator", daemon=True)
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{display_host(self.host)}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundSimulator:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Bland simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the Bland simulator failed to start: {self._error}") from self._error
        return self

    def call(self, fn: Callable[[Simulator], Any], timeout: float = 10.0) -> Any:
        """Run ``fn(simulator)`` on the server's loop (the simulator is not thread-safe) and return its result."""

        async def invoke() -> Any:
            result = fn(self.simulator)
            dispatch_ended(self._app)
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    def advance(self, seconds: float) -> list[str]:
        return self.call(lambda simulator: simulator.advance(seconds))

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        runner = web.AppRunner(self._app, handle_signals=False)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            if self.simulator.base_url is None:
                self.simulator.base_url = self.url
            self._stopping = asyncio.Event()
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            await runner.cleanup()
            return
        finally:
            self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()
