CREATE TABLE "purge_log" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "at" TEXT NOT NULL,
  "actor" TEXT NOT NULL,
  "before" TEXT NOT NULL,
  "reason" TEXT NOT NULL,
  "counts" TEXT NOT NULL
);

CREATE TABLE "purge_aggregate" (
  "kind" TEXT NOT NULL,
  "sg_id" INTEGER NOT NULL,
  "month" TEXT NOT NULL,
  "key" TEXT NOT NULL,
  "count" INTEGER NOT NULL,
  "total" REAL,
  PRIMARY KEY ("kind", "sg_id", "month", "key")
);
