"""Weekly remark lists (списки замечаний): what the teachers and the deputy actually receive.

One module per job: ``week`` (the ISO week), ``model`` (remarks, lists, the summary), ``directory`` (teachers'
e-mail addresses), ``build`` (lists from the findings in the cache), ``render`` (text and HTML), ``xlsx`` (the
summary workbook), ``outbox`` (messages, files and the outbox).

The lists are built from the findings' lifecycle in the cache (the latest ``check``), never from the network:

* a **teacher list** holds only that teacher's findings (errors, plus warnings when
  ``[rules] warnings_to_teachers``), grouped class → subject → date → rule, in three sections: new this week,
  still open (since when), resolved this week; plus, for a class teacher, the attendance remarks of the classes
  they lead (ATT002 and other rules whose owner is the class teacher — warnings included, or the part would be
  empty by design);
* the **deputy summary** covers every teacher: counts per teacher × rule, the share of lessons filled on time and
  its trend over recent weeks, the oldest open items, the undecided count and the data freshness.

A week is an ISO week (Mon–Sun, school time zone). «New» means not in an earlier list: about a day of this week,
or first found after the check the previous week's lists were sent from (``remark_week``; Monday 00:00 when they
were never sent). «Resolved this week» is measured from the same moment. Findings about days after the week's
Sunday wait for the next list. A finding that is a matter of record (``settled``: the late entry has been made
since) is shown once, as new, and not carried over as «not fixed».
"""

from asurso_sync.remarks.build import Builder
from asurso_sync.remarks.directory import Directory, directory_template, load_directory, normalize_name
from asurso_sync.remarks.errors import NoCheckYet, RemarksError
from asurso_sync.remarks.model import Remark, Summary, TeacherList
from asurso_sync.remarks.outbox import SendPlan, WeekLists, build_week, enqueue_week, write_files
from asurso_sync.remarks.render import Rendered, render_summary, render_teacher
from asurso_sync.remarks.week import Week
from asurso_sync.remarks.xlsx import summary_xlsx

__all__ = [
    "Builder",
    "Directory",
    "NoCheckYet",
    "Remark",
    "RemarksError",
    "Rendered",
    "SendPlan",
    "Summary",
    "TeacherList",
    "Week",
    "WeekLists",
    "build_week",
    "directory_template",
    "enqueue_week",
    "load_directory",
    "normalize_name",
    "render_summary",
    "render_teacher",
    "summary_xlsx",
    "write_files",
]
