"""``leadfollow.middleware.RejectNulMiddleware``: a NUL byte in a query string or form value
sent to one of leadfollow's pages is a 400.

Why a middleware: PostgreSQL refuses NUL in any text parameter ("A string literal cannot
contain NUL"), so ``?source=%00`` reached the database from every admin list filter, search
box and autocomplete and answered 500 — each filter would need its own guard. Other pages of
the site are left alone. Add it after ``AuthenticationMiddleware``:

    MIDDLEWARE = [..., "leadfollow.middleware.RejectNulMiddleware"]
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext

#: Form bodies the middleware reads. API bodies are left to DRF (its fields refuse NUL with
#: a per-field message, and reading ``request.POST`` here would spend the body the API's
#: idempotency and signature checks need); other bodies are not parsed here.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_leadfollow_view(request: HttpRequest, view_func) -> bool:
    """Rep pages, the contact form, the API, and leadfollow's admin pages (changelists,
    forms, dashboard, and the admin autocomplete when it looks up a leadfollow field)."""
    if (getattr(view_func, "__module__", "") or "").startswith("leadfollow."):
        return True
    match = request.resolver_match
    if match is None or match.namespace != "admin":
        return False
    if (match.url_name or "").startswith("leadfollow_"):
        return True
    return match.url_name == "autocomplete" and request.GET.get("app_label") == "leadfollow"


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not is_leadfollow_view(request, view_func):
            return None
        bad = _has_nul(request.GET)
        is_api = hasattr(view_func, "cls")  # DRF's as_view() marks its views so
        if not (bad or is_api) and request.method == "POST" and request.content_type in FORM_TYPES:
            bad = _has_nul(request.POST)
        if not bad:
            return None
        message = gettext("Null characters are not allowed in the request.")
        if is_api:  # the API's documented error body (FieldErrors)
            return JsonResponse({"non_field_errors": [message]}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
