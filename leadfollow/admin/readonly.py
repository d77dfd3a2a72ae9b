"""Records nobody edits in the admin: history and audit trails (append-only)."""


class ReadOnlyAdminMixin:
    """No add, change or delete through the admin; viewing follows the usual permissions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
