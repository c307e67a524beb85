CREATE TABLE "school_year" (
  "id" INTEGER NOT NULL,
  "school_id" INTEGER,
  "global_year_id" INTEGER,
  "name" TEXT,
  "start_date" TEXT,
  "end_date" TEXT,
  "closed" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "term" (
  "id" INTEGER NOT NULL,
  "school_year_id" INTEGER,
  "name" TEXT,
  "term_type_id" INTEGER,
  "start_date" TEXT,
  "end_date" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "vacation" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "start_date" TEXT,
  "end_date" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "school_class" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "grade" INTEGER,
  "letter" TEXT,
  "class_type" TEXT,
  "step" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "class_chief" (
  "class_id" INTEGER NOT NULL,
  "user_id" INTEGER NOT NULL,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("class_id", "user_id")
);

CREATE TABLE "staff" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "email" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "student" (
  "id" INTEGER NOT NULL,
  "full_name" TEXT,
  "class_id" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_student_class_id" ON "student" ("class_id");

CREATE TABLE "subject" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "short_name" TEXT,
  "global_subject_id" INTEGER,
  "global_subject_name" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "subject_group" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "class_id" INTEGER,
  "subject_id" INTEGER,
  "is_iup" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_subject_group_class_id" ON "subject_group" ("class_id");

CREATE TABLE "subject_group_teacher" (
  "sg_id" INTEGER NOT NULL,
  "teacher_id" INTEGER NOT NULL,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("sg_id", "teacher_id")
);

CREATE INDEX "idx_subject_group_teacher_teacher_id" ON "subject_group_teacher" ("teacher_id");

CREATE TABLE "enrollment" (
  "sg_id" INTEGER NOT NULL,
  "term_id" INTEGER NOT NULL,
  "student_id" INTEGER NOT NULL,
  "free" INTEGER,
  "individual_educ" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("sg_id", "term_id", "student_id")
);

CREATE INDEX "idx_enrollment_student_id" ON "enrollment" ("student_id");

CREATE TABLE "schedule_time" (
  "id" INTEGER NOT NULL,
  "number" INTEGER,
  "start_time" TEXT,
  "end_time" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "class_meeting" (
  "id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "day" TEXT,
  "number" INTEGER,
  "schedule_time_id" INTEGER,
  "room" TEXT,
  "is_tkr" INTEGER,
  "read_only" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_class_meeting_sg_id_day" ON "class_meeting" ("sg_id", "day");

CREATE INDEX "idx_class_meeting_day" ON "class_meeting" ("day");

CREATE TABLE "lesson_topic" (
  "cm_id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "ktp_lesson_id" INTEGER,
  "topic" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("cm_id")
);

CREATE INDEX "idx_lesson_topic_sg_id" ON "lesson_topic" ("sg_id");

CREATE TABLE "assignment_type" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "abbr" TEXT,
  "sort_order" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE TABLE "assignment" (
  "id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "class_meeting_id" INTEGER,
  "type_id" INTEGER,
  "name" TEXT,
  "weight" REAL,
  "issue_date" TEXT,
  "due_date" TEXT,
  "issue_cm_id" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_assignment_sg_id" ON "assignment" ("sg_id");

CREATE INDEX "idx_assignment_class_meeting_id" ON "assignment" ("class_meeting_id");

CREATE TABLE "mark" (
  "assignment_id" INTEGER NOT NULL,
  "student_id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "mark" TEXT,
  "duty" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("assignment_id", "student_id")
);

CREATE INDEX "idx_mark_sg_id" ON "mark" ("sg_id");

CREATE INDEX "idx_mark_student_id" ON "mark" ("student_id");

CREATE TABLE "attendance" (
  "class_meeting_id" INTEGER NOT NULL,
  "student_id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "reason" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("class_meeting_id", "student_id")
);

CREATE INDEX "idx_attendance_sg_id" ON "attendance" ("sg_id");

CREATE TABLE "attendance_reason" (
  "code" TEXT NOT NULL,
  "name" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("code")
);

CREATE TABLE "term_mark" (
  "sg_id" INTEGER NOT NULL,
  "term_id" INTEGER NOT NULL,
  "student_id" INTEGER NOT NULL,
  "mark" TEXT,
  "mark_type" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("sg_id", "term_id", "student_id")
);

CREATE INDEX "idx_term_mark_term_id" ON "term_mark" ("term_id");

CREATE TABLE "ktp_plan" (
  "id" INTEGER NOT NULL,
  "sg_id" INTEGER,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_ktp_plan_sg_id" ON "ktp_plan" ("sg_id");

CREATE TABLE "ktp_lesson" (
  "id" INTEGER NOT NULL,
  "plan_id" INTEGER,
  "sg_id" INTEGER,
  "unit_num" INTEGER,
  "lesson_num" INTEGER,
  "name" TEXT,
  "hours" REAL,
  "hours_studied" REAL,
  "last_study_day" TEXT,
  "home_assignment" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "idx_ktp_lesson_plan_id" ON "ktp_lesson" ("plan_id");

CREATE INDEX "idx_ktp_lesson_sg_id" ON "ktp_lesson" ("sg_id");

CREATE TABLE "school_setting" (
  "key" TEXT NOT NULL,
  "value" TEXT,
  "first_seen_at" TEXT,
  "last_seen_at" TEXT,
  "changed_at" TEXT,
  "gone_at" TEXT,
  PRIMARY KEY ("key")
);

CREATE TABLE "sync_run" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "kind" TEXT NOT NULL,
  "started_at" TEXT NOT NULL,
  "finished_at" TEXT,
  "status" TEXT NOT NULL,
  "server_time" TEXT,
  "counts" TEXT,
  "errors" TEXT
);

CREATE TABLE "sync_state" (
  "resource" TEXT NOT NULL,
  "scope" TEXT NOT NULL,
  "cursor" TEXT,
  "run_id" INTEGER REFERENCES "sync_run"("id"),
  "updated_at" TEXT NOT NULL,
  PRIMARY KEY ("resource", "scope")
);

CREATE TABLE "observation" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "run_id" INTEGER REFERENCES "sync_run"("id"),
  "resource" TEXT NOT NULL,
  "scope" TEXT NOT NULL,
  "observed_at" TEXT NOT NULL,
  "complete" INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX "idx_observation_unit" ON "observation" ("resource", "scope", "observed_at");

CREATE INDEX "idx_observation_time" ON "observation" ("observed_at");

CREATE TABLE "change_log" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "run_id" INTEGER REFERENCES "sync_run"("id"),
  "tbl" TEXT NOT NULL,
  "row_key" TEXT NOT NULL,
  "op" TEXT NOT NULL CHECK ("op" IN ('insert', 'change', 'gone', 'reappear')),
  "at" TEXT NOT NULL,
  "old" TEXT,
  "new" TEXT
);

CREATE INDEX "idx_change_log_row" ON "change_log" ("tbl", "row_key", "at");

CREATE TABLE "audit_log" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "at" TEXT NOT NULL,
  "actor" TEXT NOT NULL,
  "action" TEXT NOT NULL,
  "details" TEXT,
  "records" INTEGER
);
