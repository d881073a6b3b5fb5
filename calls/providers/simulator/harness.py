"""The simulator on its own event loop in a daemon thread, for tests and in-process demos."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from calls.providers.simulator.account import Simulator
from calls.providers.simulator.options import DEFAULT_HOST, SimulatorOptions
from calls.providers.simulator.server import build_app, dispatch_ended, display_host
from config.app_thread import AppThread


class BackgroundSimulator:
    """The simulator on its own event loop in a daemon thread, for tests and in-process demos::

        with BackgroundSimulator(time_scale=0) as sim:
            httpx.post(f"{sim.url}/v1/calls", ...)
            sim.advance(60)
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, **options: Any) -> None:
        self.host = host
        self.simulator = Simulator(SimulatorOptions(**options))
        self._app = build_app(self.simulator)
        self._server = _SimulatorThread(self, port)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{display_host(self.host)}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundSimulator:
        self._server.start(timeout)
        return self

    def call(self, fn: Callable[[Simulator], Any], timeout: float = 10.0) -> Any:
        """Run ``fn(simulator)`` on the server's loop (the simulator is not thread-safe) and return its result."""

        async def invoke() -> Any:
            result = fn(self.simulator)
            dispatch_ended(self._app)
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._server.loop).result(timeout)

    def advance(self, seconds: float) -> list[str]:
        return self.call(lambda simulator: simulator.advance(seconds))

    def stop(self, timeout: float = 10.0) -> None:
        self._server.stop(timeout)

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _SimulatorThread(AppThread):
    def __init__(self, owner: BackgroundSimulator, port: int) -> None:
        super().__init__(owner._app, owner.host, port, name="Bland simulator")
        self.owner = owner

    def started(self) -> None:
        if self.owner.simulator.base_url is None:
            self.owner.simulator.base_url = self.owner.url
