-- Shadow start: the rules the deputy has released to teachers (rulings reach teachers only once released when
-- [rules] shadow = true); the row of the latest decision per rule, its history in the audit log.
CREATE TABLE "rule_release" (
  "rule" TEXT PRIMARY KEY,
  "released" INTEGER NOT NULL,
  "at" TEXT NOT NULL,
  "author" TEXT NOT NULL,
  "adjudicated" INTEGER NOT NULL,
  "precision" REAL,
  "reason" TEXT NOT NULL DEFAULT ''
);

-- The sampling page's lessons without findings, as the deputy judged them: clean, or a violation the program missed.
CREATE TABLE "lesson_review" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "cm_id" INTEGER NOT NULL,
  "verdict" TEXT NOT NULL CHECK ("verdict" IN ('clean', 'missed')),
  "comment" TEXT NOT NULL DEFAULT '',
  "author" TEXT NOT NULL,
  "at" TEXT NOT NULL
);

CREATE INDEX "idx_lesson_review" ON "lesson_review" ("cm_id", "id");

-- A lesson's evidence lists the homework given at it too (the cabinet's finding and lesson pages).
CREATE INDEX IF NOT EXISTS "idx_assignment_issue_cm" ON "assignment" ("issue_cm_id");
