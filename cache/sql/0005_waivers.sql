CREATE TABLE "waiver" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "rule" TEXT NOT NULL,
  "scope" TEXT NOT NULL,
  "reason" TEXT NOT NULL,
  "author" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "expires" TEXT,
  "active" INTEGER NOT NULL DEFAULT 1
);
