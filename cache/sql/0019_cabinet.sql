-- Кабинет завуча: the deputy's verdicts on findings, and the cabinet's password (a slow hash only).
CREATE TABLE "adjudication" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "fingerprint" TEXT NOT NULL,
  "rule" TEXT NOT NULL,
  "verdict" TEXT NOT NULL CHECK ("verdict" IN ('right', 'wrong', 'disputed')),
  "comment" TEXT NOT NULL DEFAULT '',
  "author" TEXT NOT NULL,
  "at" TEXT NOT NULL
);

CREATE INDEX "idx_adjudication_finding" ON "adjudication" ("fingerprint", "id");

CREATE TABLE "web_account" (
  "name" TEXT PRIMARY KEY,
  "hash" TEXT NOT NULL,
  "set_at" TEXT NOT NULL
);
