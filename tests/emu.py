"""Test helpers for the emulator: an in-process client, a hand-made login, a loopback uvicorn server."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import httpx
import uvicorn

from adapters.emulator.journal import Journal
from adapters.emulator.protocol import password_hashes
from adapters.emulator.school import School
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport

BASE = "http://emu.test"


def client(emu: Emulator, **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=EmulatorTransport(emu), base_url=BASE, **kw)


async def login(
    c: httpx.AsyncClient,
    user: str = "zavuch",
    password: str = "Сота-2026",
    *,
    upper: bool = False,
    rolegroup: str | None = None,
    referer: bool = True,
) -> httpx.Response:
    await c.get("/webapi/logindata")
    d = (await c.post("/webapi/auth/getdata")).json()
    pw, pw2 = password_hashes(password, d["salt"])
    names = ("LoginType", "UN", "PW") if upper else ("loginType", "un", "pw")
    form = {names[0]: "1", "scid": "1", names[1]: user, names[2]: pw, "pw2": pw2, "lt": d["lt"], "ver": d["ver"]}
    if rolegroup:
        form["rolegroup"] = rolegroup
    headers = {"Referer": f"{c.base_url}/"} if referer else {}
    r = await c.post("/webapi/login", data=form, headers=headers)
    if r.status_code == 200:
        c.headers["at"] = r.json()["at"]  # the cookies (ESRNSec among them) stay in httpx's standard jar
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, *, tls: tuple[str, str] | None = None, **options: Any) -> Iterator[str]:
    """Run an ASGI app (the emulator, the cabinet) under uvicorn on an ephemeral loopback port; yields the base
    URL. ``tls``: (certificate, key) files to serve HTTPS with; ``options``: more of uvicorn's settings."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        date_header=False,
        lifespan="off",
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@cache
def _pickled_school(size: str, seed: int) -> bytes:
    emu = Emulator(EmulatorSettings(size=size, seed=seed))  # type: ignore[arg-type]
    return pickle.dumps((emu.school, emu.journal), protocol=pickle.HIGHEST_PROTOCOL)


def fresh_school(size: str = "tiny", seed: int = 1) -> tuple[School, Journal]:
    """A private copy of the generated school (``size``, ``seed``, the default week, scenario and practice) and its
    journal, for ``EmulatorSettings(prebuilt=…)``: the test may change it. Generated once per test process and
    unpickled for each use — under a third of the generation's CPU (``tiny``: 0.025 s instead of 0.09 s). The
    collector is off while unpickling: the ~100 000 new objects, none of them garbage, made it walk the test
    process's whole heap again and again (0.12 s in a worker that holds three ``small`` schools, 0.57 s in a whole
    lane's process)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(_pickled_school(size, seed))  # type: ignore[no-any-return]  # noqa: S301 (our own bytes)
    finally:
        if enabled:
            gc.enable()


def tiny(**kw: Any) -> Emulator:
    """An emulator of the generated ``tiny`` school (its own copy: a test may change it) in test mode."""
    if not {"seed", "week", "scenario", "practice", "prebuilt"} & kw.keys():
        kw["prebuilt"] = fresh_school("tiny", 1)
    return Emulator(EmulatorSettings(size="tiny", control=True, **kw))


@cache
def generated_school(size: str, seed: int) -> tuple[School, Journal]:
    """The generated school of (``size``, ``seed``) and its journal with the default practice, once per test process:
    shared, so only for tests that read them."""
    emu = Emulator(EmulatorSettings(size=size, seed=seed))  # type: ignore[arg-type]
    keep_out_of_the_collectors_way()
    return emu.school, emu.journal


def keep_out_of_the_collectors_way() -> None:
    """Move what the process holds now — above all the schools cached for the whole process (``small``: about two
    million objects) — out of the cyclic collector's sight (``gc.freeze``), after a last collection so that no
    garbage is frozen with it. The collector's full passes walked those schools every time: 27 passes, 12.5 s of a
    61 s CPU run of the five test files that use them. Nothing of the schools is ever garbage (the cache holds them
    until the process ends), and how often the collector runs does not change."""
    gc.collect()
    gc.freeze()


def generated(size: str = "small", seed: int = 1, **kw: Any) -> Emulator:
    """An emulator of the generated school ``size``/``seed``, generated once per test process and shared (``small``
    costs 2 s of CPU to generate): for tests that only read it — faults and drifts act in the served views, never
    on the school or its journal; a test that changes the journal generates its own."""
    return Emulator(EmulatorSettings(size=size, seed=seed, prebuilt=generated_school(size, seed), **kw))  # type: ignore[arg-type]


@contextmanager
def serve_command(args: list[str], port: int, probe: str) -> Iterator[str]:
    """``asurso-sync ARGS`` serving on ``port`` in its own process, as a user starts it; yields the base URL once
    ``probe`` answers, and stops it with Ctrl+C afterwards."""
    # stderr goes to a file: a pipe nobody reads fills up (64 KB) and blocks the server mid-test
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "asurso_sync", *args],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            # a safety net, not a timing: the loop ends when the server answers; a machine under load (CI beside
            # other jobs) may take a minute to start a Python process
            deadline = time.monotonic() + 180
            while True:
                try:
                    httpx.get(f"{base}{probe}", timeout=1)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, log.seek(0) or log.read().decode()
                    assert time.monotonic() < deadline, f"asurso-sync {' '.join(args)} did not start"
                    time.sleep(0.1)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)


@contextmanager
def serve_process(*args: str) -> Iterator[str]:
    """``asurso-sync emulator serve ARGS`` in its own process on a free loopback port."""
    port = free_port()
    with serve_command(["emulator", "serve", "--port", str(port), *args], port, "/webapi/logindata") as base:
        yield base
