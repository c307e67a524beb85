"""``python -m tests.cli_at ARGS…``: the asurso-sync command line as a user runs it, at the moment
``ASURSO_TEST_NOW`` (ISO, school-local) of the emulated school year.

The emulator's year is 2026/27 and fixed; a test that follows README's steps in separate processes must not depend
on the day it runs. time-machine moves the program's wall clock (``datetime.now``, ``time.time``) and lets it tick;
nothing else about the process differs from ``asurso-sync ARGS…``.
"""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from asurso_sync.cli import main

if __name__ == "__main__":
    moment = datetime.fromisoformat(os.environ["ASURSO_TEST_NOW"]).replace(tzinfo=ZoneInfo("Europe/Samara"))
    with time_machine.travel(moment, tick=True):
        main()
