-- The newest verdict (adjudication id) when a link was issued: the next letter reports the answers given after
-- it. Compared by id, not by time — a letter built in the same second as an answer (the clock's resolution is a
-- second) must neither lose that answer nor report it twice.
ALTER TABLE "teacher_link" ADD COLUMN "verdicts_before" INTEGER;

-- links issued before: the verdicts up to their moment
UPDATE "teacher_link" SET "verdicts_before" = (SELECT COALESCE(MAX(a."id"), 0) FROM "adjudication" a WHERE a."at" <= "teacher_link"."issued_at");
