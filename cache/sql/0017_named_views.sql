-- Views for people browsing the mirror (datasette cache.db, any SQLite viewer): names instead of ids, Russian
-- column names, only what is in the journal now (rows the server no longer returns are left out). Read-only:
-- nothing in the program reads them.

CREATE VIEW "уроки" AS
SELECT
  cm."id" AS "урок_id",
  cm."day" AS "дата",
  cm."number" AS "номер",
  c."name" AS "класс",
  s."name" AS "предмет",
  g."name" AS "группа",
  coalesce(
    recorded."name",
    (SELECT group_concat(st."name", ', ') FROM "subject_group_teacher" t JOIN "staff" st ON st."id" = t."teacher_id"
     WHERE t."sg_id" = cm."sg_id" AND t."gone_at" IS NULL)
  ) AS "учитель",
  lt."topic" AS "тема",
  (SELECT group_concat(a."name", '; ') FROM "assignment" a
   JOIN "assignment_type" k ON k."id" = a."type_id" AND k."name" = 'Домашнее задание'
   WHERE coalesce(a."issue_cm_id", a."class_meeting_id") = cm."id" AND a."gone_at" IS NULL) AS "домашнее_задание",
  cm."first_seen_at" AS "впервые_прочитан"
FROM "class_meeting" cm
LEFT JOIN "subject_group" g ON g."id" = cm."sg_id"
LEFT JOIN "school_class" c ON c."id" = g."class_id"
LEFT JOIN "subject" s ON s."id" = g."subject_id"
LEFT JOIN "staff" recorded ON recorded."id" = cm."teacher_id"
LEFT JOIN "lesson_topic" lt ON lt."cm_id" = cm."id" AND lt."gone_at" IS NULL
WHERE cm."gone_at" IS NULL;

CREATE VIEW "отметки" AS
SELECT
  st."full_name" AS "ученик",
  c."name" AS "класс",
  s."name" AS "предмет",
  coalesce(cm."day", a."due_date") AS "дата",
  kind."name" AS "вид_работы",
  a."name" AS "работа",
  a."weight" AS "вес",
  m."mark" AS "отметка",
  m."duty" AS "долг",
  m."first_seen_at" AS "впервые_прочитана",
  m."assignment_id" AS "задание_id",
  m."student_id" AS "ученик_id"
FROM "mark" m
JOIN "assignment" a ON a."id" = m."assignment_id"
LEFT JOIN "assignment_type" kind ON kind."id" = a."type_id"
LEFT JOIN "class_meeting" cm ON cm."id" = a."class_meeting_id"
LEFT JOIN "student" st ON st."id" = m."student_id"
LEFT JOIN "subject_group" g ON g."id" = m."sg_id"
LEFT JOIN "school_class" c ON c."id" = g."class_id"
LEFT JOIN "subject" s ON s."id" = g."subject_id"
WHERE m."gone_at" IS NULL;

CREATE VIEW "посещаемость" AS
SELECT
  st."full_name" AS "ученик",
  c."name" AS "класс",
  s."name" AS "предмет",
  cm."day" AS "дата",
  cm."number" AS "урок",
  coalesce(r."name", at."reason") AS "отметка",
  at."first_seen_at" AS "впервые_прочитана",
  at."class_meeting_id" AS "урок_id"
FROM "attendance" at
LEFT JOIN "class_meeting" cm ON cm."id" = at."class_meeting_id"
LEFT JOIN "student" st ON st."id" = at."student_id"
LEFT JOIN "subject_group" g ON g."id" = at."sg_id"
LEFT JOIN "school_class" c ON c."id" = g."class_id"
LEFT JOIN "subject" s ON s."id" = g."subject_id"
LEFT JOIN "attendance_reason" r ON r."code" = at."reason"
WHERE at."gone_at" IS NULL;

CREATE VIEW "замечания" AS
SELECT
  f."rule" AS "правило",
  CASE f."severity" WHEN 'error' THEN 'нарушение' WHEN 'warning' THEN 'предупреждение' ELSE 'для сведения' END
    AS "важность",
  CASE f."state" WHEN 'new' THEN 'новое' WHEN 'open' THEN 'не устранено' ELSE 'устранено' END AS "состояние",
  f."date" AS "дата",
  c."name" AS "класс",
  st."name" AS "учитель",
  f."message" AS "замечание",
  substr(f."fingerprint", 1, 8) AS "номер",
  f."first_seen" AS "впервые",
  f."resolved_at" AS "устранено"
FROM "finding" f
LEFT JOIN "school_class" c ON c."id" = f."class_id"
LEFT JOIN "staff" st ON st."id" = f."teacher_id";
