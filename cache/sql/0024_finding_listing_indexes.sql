-- The cabinet's listings count a year's open findings (10⁵ in a large school) per teacher, class or rule and rule:
-- each of these covers its count, read in the index's order (no table rows, no sorting). The third also gives the
-- overview its count per rule with the undecided ones, and the review queue a rule's findings in the order of
-- their fingerprints (its next one without sorting the rule's 10⁴).
CREATE INDEX "idx_finding_teacher_rule" ON "finding" ("teacher_id", "rule", "state");

CREATE INDEX "idx_finding_class_rule" ON "finding" ("class_id", "rule", "state");

CREATE INDEX "idx_finding_rule" ON "finding" ("rule", "fingerprint", "state", "evidence");
