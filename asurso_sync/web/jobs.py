"""A sync or a check started from the cabinet: one at a time, in a background thread, with progress.

The sync takes the cache's lock like any other run (a scheduled sync in progress makes it fail with the usual
message); the page polls by reloading itself, so no JavaScript is needed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from asurso_sync.check import CheckOptions, run_check
from asurso_sync.config import Config
from asurso_sync.errors import exit_code_for
from asurso_sync.sync import SyncOptions, sync_once
from asurso_sync.vocabulary import run_status

log = logging.getLogger(__name__)
KINDS = {"sync": "синхронизация", "check": "проверка"}


@dataclass
class Job:
    kind: str
    started: float = field(default_factory=time.monotonic)
    label: str = "подготовка"
    done: int = 0
    total: int = 0
    state: str = "running"  # running | ok | failed
    message: str = ""
    finished: float | None = None

    @property
    def eta(self) -> float | None:
        """Seconds left, from the pace so far (None until something is done)."""
        if self.state != "running" or not self.done or not self.total:
            return None
        spent = time.monotonic() - self.started
        return max(0.0, spent / self.done * (self.total - self.done))


class Jobs:
    def __init__(self, config: Config, run: Callable[[Job], str] | None = None) -> None:
        self.config = config
        self.current: Job | None = None
        self._lock = threading.Lock()
        self._run = run or self._default
        self.after: Callable[[], None] | None = None  # called when a job has ended (the cabinet rebuilds its lists)

    def start(self, kind: str) -> Job | None:
        """Start a job, or None when one is running (one at a time)."""
        with self._lock:
            if self.current is not None and self.current.state == "running":
                return None
            job = Job(kind)
            self.current = job
        threading.Thread(target=self._work, args=(job,), daemon=True, name=f"cabinet-{kind}").start()
        return job

    def _work(self, job: Job) -> None:
        try:
            job.message = self._run(job)
            job.state = "ok"
        except BaseException as exc:
            code = exit_code_for(exc)
            job.message = str(exc) if code is not None else f"внутренняя ошибка: {exc!r}"
            job.state = "failed"
            if code is None:
                log.exception("задание кабинета «%s» завершилось внутренней ошибкой", job.kind)
        finally:
            job.finished = time.monotonic()
            if self.after is not None:
                self.after()

    def _default(self, job: Job) -> str:
        config = self.config
        if job.kind == "check":
            job.label = "проверка журнала"
            now = datetime.now(config.school.tz).replace(tzinfo=None)
            outcome = run_check(config, CheckOptions(as_of=now))
            return f"Проверка выполнена: замечаний {len(outcome.findings)}."

        def progress(label: str, done: int) -> None:
            job.label, job.done = label, done

        def total(more: int) -> None:
            job.total += more

        options = SyncOptions(mode="incremental", lookback_days=config.sync.lookback_days)
        report = asyncio.run(sync_once(config, options, progress=progress, total=total))
        return f"Синхронизация: итог «{run_status(report.status)}», запросов {report.requests}."
