import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.test import override_settings

from leadfollow.models import Assignment, AssignmentReason
from leadfollow.notifications import managers, notify_assignment
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_managers_by_permission_group_permission_or_configured_group():
    permission = Permission.objects.get(codename="manage_leads")
    direct = UserFactory(username="direct")
    direct.user_permissions.add(permission)
    via_group = UserFactory(username="via-group")
    group = Group.objects.create(name="leads admins")
    group.permissions.add(permission)
    via_group.groups.add(group)
    named = UserFactory(username="named")
    named.groups.add(Group.objects.create(name="Sales managers"))
    UserFactory(username="rep")

    assert {u.username for u in managers()} == {"direct", "via-group"}
    with override_settings(LEADFOLLOW={"MANAGER_GROUP": "Sales managers"}):
        assert {u.username for u in managers()} == {"direct", "via-group", "named"}


def test_assignment_mail_is_sent_once_and_carries_no_task_payload_data():
    rep = UserFactory()
    lead = LeadFactory(owner=rep)
    row = Assignment.objects.create(lead=lead, to_rep=rep, reason=AssignmentReason.INTAKE)
    assert notify_assignment(row.pk) is True
    assert notify_assignment(row.pk) is False
    assert [m.to for m in mail.outbox] == [[rep.email]]
    assert lead.name in mail.outbox[0].subject
