-- The rules read the value changes of two tables (attendance codes, enrollment) in time order. The history index
-- (tbl, row_key, at) finds a table's entries but not its changes among them: every insert entry was read and
-- dropped (a year of a large school: 110 000 for those two tables). A partial index holds the changes alone,
-- ordered by time.
CREATE INDEX "idx_change_log_changes" ON "change_log" ("tbl", "at") WHERE "op" = 'change'
