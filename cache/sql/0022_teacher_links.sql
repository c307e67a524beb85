-- A teacher's personal page (the link in her letter): the links, each bound to one teacher and stored only as
-- the SHA-256 of its random token; her objections to remarks; the verdict store marks what answers them.
CREATE TABLE "teacher_link" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "teacher_id" INTEGER NOT NULL,
  "token_hash" TEXT NOT NULL UNIQUE,
  "period" TEXT NOT NULL DEFAULT '',
  "issued_at" TEXT NOT NULL,
  "expires_at" TEXT NOT NULL,
  "revoked_at" TEXT,
  "last_used_at" TEXT
);

CREATE INDEX "idx_teacher_link_teacher" ON "teacher_link" ("teacher_id", "id");

CREATE TABLE "teacher_objection" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "teacher_id" INTEGER NOT NULL,
  "link_id" INTEGER NOT NULL REFERENCES "teacher_link" ("id"),
  "kind" TEXT NOT NULL CHECK ("kind" IN ('dispute', 'not_held')),
  "cm_id" INTEGER,
  "reason" TEXT NOT NULL DEFAULT '',
  "at" TEXT NOT NULL
);

CREATE INDEX "idx_teacher_objection_teacher" ON "teacher_objection" ("teacher_id", "id");

-- a verdict row that is a teacher's objection («спорно», author the teacher) or the deputy's answer to one
ALTER TABLE "adjudication" ADD COLUMN "objection_id" INTEGER REFERENCES "teacher_objection" ("id");

CREATE INDEX "idx_adjudication_objection" ON "adjudication" ("objection_id");
