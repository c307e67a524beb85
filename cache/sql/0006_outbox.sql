CREATE TABLE "outbox" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "key" TEXT NOT NULL UNIQUE,
  "recipient" TEXT NOT NULL,
  "kind" TEXT NOT NULL,
  "period" TEXT NOT NULL,
  "subject" TEXT NOT NULL,
  "message" BLOB NOT NULL,
  "state" TEXT NOT NULL CHECK ("state" IN ('pending', 'sending', 'sent', 'failed')),
  "message_id" TEXT,
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "last_error" TEXT,
  "created_at" TEXT NOT NULL,
  "sent_at" TEXT
);

CREATE INDEX "idx_outbox_state" ON "outbox" ("state", "period");
