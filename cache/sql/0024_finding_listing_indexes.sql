-- Кабинет завуча over a year of a large school (10⁵ findings): what its pages ask of "finding", answered from
-- indexes rather than from a pass over the table with a sort.

-- /teachers, /classes: open findings counted per teacher or class and rule, in the index's order (covering)
CREATE INDEX "idx_finding_teacher_rule" ON "finding" ("teacher_id", "rule", "state");

CREATE INDEX "idx_finding_class_rule" ON "finding" ("class_id", "rule", "state");

-- a rule's page: its filters' counts per class, state, evidence and kind (covering); the overview's count per rule
-- with the undecided ones
CREATE INDEX "idx_finding_rule" ON "finding" ("rule", "class_id", "state", "evidence", "record");

-- the review queue: a rule's next unjudged finding in the order of fingerprints (not a sort of its 10⁴); /rules
CREATE INDEX "idx_finding_rule_queue" ON "finding" ("rule", "fingerprint", "state");

-- a rule's and a class's page: the newest 300 open findings read in the order of the day (a teacher's page has
-- idx_finding_teacher)
CREATE INDEX "idx_finding_rule_date" ON "finding" ("rule", "date");

CREATE INDEX "idx_finding_class_date" ON "finding" ("class_id", "date");
