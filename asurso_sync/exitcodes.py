"""Exit codes of the ``asurso-sync`` command. Each means one thing for every command (README «Коды завершения»).

``asurso_sync.errors.exit_code_for`` maps errors to them; monitoring and systemd units rely on them: keep them
stable.
"""

OK = 0
ATTENTION = 1  # finished, but something needs a person's attention (warnings, status problems, unsent mail)
CONFIG = 2  # bad command line or configuration: nothing was done
STALE = 3  # the data are stale, the last sync failed, or there is no check yet: nothing was produced
INTERNAL = 4  # an internal error of the program (a bug): the details are in the log
AUTH = 5  # the server refused the login or the access: do not retry automatically
TEMPFAIL = 6  # network or server trouble: try again later
LOCKED = 7  # another run holds the cache lock
VIOLATIONS = 8  # ``check`` found violations (warnings alone are ATTENTION)
STORAGE = 9  # the cache or the disk cannot be used: not created, damaged, newer than the program, disk full, no rights
WRONG_SERVER = 10  # [asurso] base_url is not a NetSchool server: not found (DNS), no TLS there, another site
INTERRUPTED = 130  # stopped by the user (Ctrl+C)
