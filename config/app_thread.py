"""An aiohttp application served on its own event loop in a daemon thread: how the bundled Bland simulator
and the Sheets emulator run inside a test process or an in-process demo."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class AppThread:
    """Serve ``app`` on ``host:port`` (0: a free port) until ``stop()``; ``start()`` returns the bound port."""

    def __init__(self, app: web.Application, host: str, port: int, *, name: str, access_log: bool = True) -> None:
        self.app, self.host, self.port, self.name = app, host, port, name
        self.access_log = access_log
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float) -> int:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the {self.name} did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the {self.name} failed to start: {self._error}") from self._error
        return self.port

    def stop(self, timeout: float) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self.loop.close()

    async def _main(self) -> None:
        if self.access_log:
            runner = web.AppRunner(self.app, handle_signals=False)
        else:
            runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        try:
            await runner.setup()
            await web.TCPSite(runner, self.host, self.port).start()
            self.port = runner.addresses[0][1]
            self.started()
            self._stopping = asyncio.Event()
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            await runner.cleanup()
            return
        finally:
            self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    def started(self) -> None:
        """Called on the server's loop once the port is bound (before ``start()`` returns)."""
