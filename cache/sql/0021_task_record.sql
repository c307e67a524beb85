-- Ruling R22: why a finding is a record (nothing left to fix), '' for a task; when it became one (a record is
-- shown once, in the list made after that moment, then only counted).
ALTER TABLE "finding" ADD COLUMN "record" TEXT NOT NULL DEFAULT '';

ALTER TABLE "finding" ADD COLUMN "record_since" TEXT;

-- Ruling R23: the first week a teacher's letter went out while a rule was released to teachers (per teacher and
-- rule). Before it, that rule's older open items are the deputy's «накопленные замечания», not the letter's.
CREATE TABLE "letter_rule" (
    "teacher_id" INTEGER NOT NULL,
    "rule" TEXT NOT NULL,
    "week" TEXT NOT NULL,
    PRIMARY KEY ("teacher_id", "rule")
);
