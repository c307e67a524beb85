-- The rules aggregate the access report per lesson, kind and text (first and last entry time). An index that
-- holds all four columns answers that from the index alone, already in group order: on a year of a large
-- school the aggregation no longer reads the wide table or sorts it. It serves every lookup the (cm_id, kind)
-- index did, so that one goes.
DROP INDEX IF EXISTS "idx_access_log_cm";

CREATE INDEX "idx_access_log_evidence" ON "access_log" ("cm_id", "kind", "detail", "at")
