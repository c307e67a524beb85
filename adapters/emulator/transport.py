"""In-process use of the emulator with network-like behaviour.

``httpx.ASGITransport`` ignores timeouts and surfaces the app's own exceptions. This transport
enforces the request's read timeout (an answer later than it becomes ``httpx.ReadTimeout``) and turns an
emulated connection reset into ``httpx.RemoteProtocolError``, as a real socket would.

An emulated hang does not spend real seconds: ``ASGITransport`` runs the app in the caller's task, so the app sees
the request's read timeout (``CLIENT_READ_TIMEOUT``), and a hang that would outlast it ends at once with
``EmulatedReadTimeout``, raised here as the ``httpx.ReadTimeout`` the client's timer would have raised.
"""

from __future__ import annotations

import asyncio

import httpx

from adapters.emulator.protocol import CLIENT_READ_TIMEOUT, EmulatedConnectionReset, EmulatedReadTimeout


class EmulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: object, *, client: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self._inner = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        token = CLIENT_READ_TIMEOUT.set(timeout)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives as the
            # answer completes (the task then goes on as if nothing happened — a client closing its keep-alive
            # task waited for ever); the timeout context re-raises it
            async with asyncio.timeout(timeout):
                return await self._inner.handle_async_request(request)
        except (TimeoutError, EmulatedReadTimeout) as exc:
            raise httpx.ReadTimeout("эмулятор не ответил вовремя", request=request) from exc
        except EmulatedConnectionReset as exc:
            raise httpx.RemoteProtocolError("соединение разорвано сервером", request=request) from exc
        finally:
            CLIENT_READ_TIMEOUT.reset(token)

    async def aclose(self) -> None:
        await self._inner.aclose()
