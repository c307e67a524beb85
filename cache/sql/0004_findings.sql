CREATE TABLE "check_run" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "started_at" TEXT NOT NULL,
  "as_of" TEXT NOT NULL,
  "period_from" TEXT NOT NULL,
  "period_to" TEXT NOT NULL,
  "rules" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "counts" TEXT
);

CREATE TABLE "finding" (
  "fingerprint" TEXT PRIMARY KEY,
  "rule" TEXT NOT NULL,
  "entity" TEXT NOT NULL,
  "severity" TEXT NOT NULL,
  "teacher_id" INTEGER,
  "class_id" INTEGER,
  "sg_id" INTEGER,
  "date" TEXT,
  "message" TEXT NOT NULL,
  "evidence" TEXT NOT NULL,
  "state" TEXT NOT NULL CHECK ("state" IN ('new', 'open', 'resolved')),
  "first_seen" TEXT NOT NULL,
  "last_seen" TEXT NOT NULL,
  "resolved_at" TEXT,
  "check_run_id" INTEGER REFERENCES "check_run"("id")
);

CREATE INDEX "idx_finding_teacher" ON "finding" ("teacher_id", "state");

CREATE INDEX "idx_finding_date" ON "finding" ("date");
