"""The SQLite mirror of the journal: schema, migrations, temporal saves, history queries, sync state.

Nothing outside this package writes the mirror's tables. Public API:
"""

from cache.access import classify, save_access_rows
from cache.db import CacheError, CacheTooNewError, open_cache, pending_migrations, schema_version
from cache.files import create_private_file, ensure_private_dir, write_private_bytes, write_private_chunks
from cache.findings import add_waiver, findings_by_state, last_check, record_check, remove_waiver, waivers
from cache.history import EmptyUnitError, SaveStats, UnitWriter, save_rows, unit
from cache.outbox import (
    OutboxRow,
    claim,
    enqueue,
    fix_week,
    lists_ever_sent,
    mark_failed,
    mark_sent,
    outbox_rows,
    week_cutoff,
)
from cache.purge import PurgeReport, purge, purge_records
from cache.queries import (
    BackgroundReads,
    canonical_dump,
    lessons_touched_in_run,
    live_count,
    observations,
    present_at,
    rows,
    table_counts,
    value_at,
)
from cache.runs import (
    FullLoad,
    RunInfo,
    audit,
    audit_entries,
    finish_run,
    full_load_done_units,
    full_load_state,
    get_cursor,
    last_runs,
    last_successful_run,
    plan_full_load,
    start_run,
)
from cache.schema import ENTITIES, HISTORY_COLUMNS, Entity

__all__ = [
    "ENTITIES",
    "HISTORY_COLUMNS",
    "BackgroundReads",
    "CacheError",
    "CacheTooNewError",
    "EmptyUnitError",
    "Entity",
    "FullLoad",
    "OutboxRow",
    "PurgeReport",
    "RunInfo",
    "SaveStats",
    "UnitWriter",
    "add_waiver",
    "audit",
    "audit_entries",
    "canonical_dump",
    "claim",
    "classify",
    "create_private_file",
    "enqueue",
    "ensure_private_dir",
    "findings_by_state",
    "finish_run",
    "fix_week",
    "full_load_done_units",
    "full_load_state",
    "get_cursor",
    "last_check",
    "last_runs",
    "last_successful_run",
    "lessons_touched_in_run",
    "lists_ever_sent",
    "live_count",
    "mark_failed",
    "mark_sent",
    "observations",
    "open_cache",
    "outbox_rows",
    "pending_migrations",
    "plan_full_load",
    "present_at",
    "purge",
    "purge_records",
    "record_check",
    "remove_waiver",
    "rows",
    "save_access_rows",
    "save_rows",
    "schema_version",
    "start_run",
    "table_counts",
    "unit",
    "value_at",
    "waivers",
    "week_cutoff",
    "write_private_bytes",
    "write_private_chunks",
]
