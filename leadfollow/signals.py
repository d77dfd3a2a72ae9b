"""Signals leadfollow sends. Receivers run inside the intake/sweep transaction: keep them quick."""

from django.dispatch import Signal

# A lead came in. args: lead, created (False when it was a repeat attached to an existing lead)
lead_received = Signal()
# A lead got an owner (or none was available). args: lead, assignment
lead_assigned = Signal()
# A lead moved to another rep after a missed deadline or an absence. args: lead, assignment
lead_reassigned = Signal()
# A contact attempt was logged. args: lead, attempt, first (True when it stopped the clock)
lead_contacted = Signal()
# A lead was escalated to managers after repeated misses. args: lead, assignment
lead_escalated = Signal()
# An engagement event lifted a lead across HOT_SCORE_THRESHOLD (or by HEATING_UP_JUMP).
# args: lead, reminder (the heating_up Reminder e-mailed to the owner; None without owner)
lead_heated_up = Signal()

# Sent by the notification tasks (django-q2 workers, after the e-mail, outside any
# transaction), once per message even if the task runs twice: hook Slack or SMS here.
# Receivers are called with send_robust; an exception is logged, not retried.
# A rep was told about a lead they got. args: assignment, rep, emailed (False when the rep
# has no e-mail address; the assignment's reason says why: intake, sla_breach, …)
rep_notified = Signal()
# The first-touch e-mail went to a new lead. args: lead, attempt (the automated
# ContactAttempt that records it)
first_touch_sent = Signal()
