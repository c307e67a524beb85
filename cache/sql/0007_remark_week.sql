CREATE TABLE "remark_week" (
  "week" TEXT PRIMARY KEY,
  "check_run_id" INTEGER NOT NULL REFERENCES "check_run"("id"),
  "as_of" TEXT NOT NULL,
  "created_at" TEXT NOT NULL
);
