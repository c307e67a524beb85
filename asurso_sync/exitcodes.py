"""Exit codes of the ``asurso-sync`` command (documented in README)."""

OK = 0
ATTENTION = 1  # finished, but something needs a person's attention (warnings, status problems)
CONFIG = 2  # bad command line or configuration: nothing was done
STALE = 3  # data is stale or the last sync failed (check refuses to produce remarks)
ENGINE = 4  # internal error of the rules engine
AUTH = 5  # the server refused the login: do not retry automatically
TEMPFAIL = 6  # network or server trouble: try again later
LOCKED = 7  # another run holds the cache lock
