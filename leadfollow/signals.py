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
