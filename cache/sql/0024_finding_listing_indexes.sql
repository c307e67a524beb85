-- Кабинет завуча over a year of a large school (10⁵ findings): what its slowest pages ask of "finding", answered
-- from indexes rather than from a pass over the table with a sort. Each index costs every check's writes (10⁵
-- upserts): only the pages that needed one have one (benchmarks/RESULTS.md, 08.12.2026).

-- /teachers, /classes: open findings counted per teacher or class and rule, in the index's order (covering); the
-- first also serves what idx_finding_teacher (teacher_id, state) did — a teacher's findings — and replaces it
DROP INDEX "idx_finding_teacher";

CREATE INDEX "idx_finding_teacher_rule" ON "finding" ("teacher_id", "rule", "state");

CREATE INDEX "idx_finding_class_rule" ON "finding" ("class_id", "rule", "state");

-- a rule's page: its filters' counts per class, state, evidence and kind (covering); /rules and the overview's
-- counts per rule; the review queue: a rule's next unjudged finding in the order of fingerprints (not a sort of
-- the rule's 10⁴ for each verdict)
CREATE INDEX "idx_finding_rule" ON "finding" ("rule", "fingerprint", "class_id", "state", "evidence", "record");

-- a rule's page: its newest 300 open findings read in the order of the day (a year's rule has 10⁴ to sort)
CREATE INDEX "idx_finding_rule_date" ON "finding" ("rule", "date");
