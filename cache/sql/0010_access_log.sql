CREATE TABLE "access_log" (
  "key" TEXT PRIMARY KEY,
  "class_id" INTEGER,
  "class_name" TEXT NOT NULL,
  "sg_id" INTEGER,
  "subject" TEXT NOT NULL,
  "at" TEXT NOT NULL,
  "user_name" TEXT NOT NULL,
  "user_id" INTEGER,
  "lesson_day" TEXT,
  "lesson_number" INTEGER,
  "cm_id" INTEGER,
  "period" TEXT NOT NULL,
  "action" TEXT NOT NULL,
  "kind" TEXT NOT NULL,
  "detail" TEXT,
  "first_seen_at" TEXT NOT NULL,
  "run_id" INTEGER REFERENCES "sync_run"("id")
);

CREATE INDEX "idx_access_log_cm" ON "access_log" ("cm_id", "kind");

CREATE INDEX "idx_access_log_group_day" ON "access_log" ("sg_id", "lesson_day")
