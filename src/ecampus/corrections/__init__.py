"""Corrections a coordinator or admin makes to the record: withdraw or move an enrolment,
rename or close a cohort, grant extra quiz attempts, fix a participant's name or email.
Each is written to the audit log in its own transaction. One floor above accounts,
learning and quizzes (it imports them; they never import it)."""
