"""A site's own contact form, posting into the same ``create_lead`` as the API.

``path("contact/", ContactFormView.as_view(source="web"), name="contact")``
"""

from __future__ import annotations

import copy

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.generic import FormView

from leadfollow import ratelimit, tracking
from leadfollow.conf import lf_settings
from leadfollow.intake import LeadIntakeForm, create_lead

HONEYPOT = "website"
RATE_SCOPE = "contact_form"
DEFAULT_CONSENT_TEXT = _(
    "I agree that my details are stored and used to answer my request. I can ask for them to "
    "be erased at any time."
)


def _intake_field(name: str, **changes) -> forms.Field:
    field = copy.deepcopy(LeadIntakeForm.base_fields[name])
    for attribute, value in changes.items():
        setattr(field, attribute, value)
    return field


class ContactForm(forms.Form):
    """The fields a visitor fills in. ``create_lead`` validates them (once, for all entry
    points); this form only renders them and carries the honeypot."""

    name = _intake_field("name")
    email = _intake_field("email")
    phone = _intake_field("phone")
    company = _intake_field("company")
    message = _intake_field("message", widget=forms.Textarea(attrs={"rows": 5}))
    # Humans never see it (hidden by CSS, skipped by keyboard and screen readers); bots fill it.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, consent_text: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if consent_text:
            # The box's label is the wording the visitor agrees to, and what is stored.
            self.fields["consent"] = forms.BooleanField(label=consent_text, required=True)

    def visible_fields(self):
        return [f for f in super().visible_fields() if f.name != HONEYPOT]


@method_decorator(csrf_protect, name="dispatch")
@method_decorator(sensitive_post_parameters(), name="dispatch")
class ContactFormView(FormView):
    form_class = ContactForm
    template_name = "leadfollow/intake/contact_form.html"
    thanks_template_name = "leadfollow/intake/thanks.html"
    source = "web"
    #: What the visitor agrees to and the box's wording. The box is shown when
    #: ``consent_text`` is set, or with ``DEFAULT_CONSENT_TEXT`` when REQUIRE_CONSENT is on.
    consent_purpose = _("Answering my request")
    consent_text: str | None = None

    def get_consent_text(self) -> str | None:
        if self.consent_text:
            return str(self.consent_text)
        return str(DEFAULT_CONSENT_TEXT) if lf_settings.REQUIRE_CONSENT else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "consent_text": self.get_consent_text()}

    def get(self, request, *args, **kwargs):
        if request.GET.get("sent"):
            return self.response_class(
                request=request, template=[self.thanks_template_name], context={}
            )
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        # Every post counts, valid or not: a flood of bad posts costs as much as good ones,
        # and each lead may send an e-mail to an address the visitor typed.
        address, rate = ratelimit.client_address(request), lf_settings.CONTACT_FORM_RATE
        if ratelimit.exceeded(RATE_SCOPE, address, rate):
            return HttpResponse(
                _("Too many requests from your address. Please try again later."),
                status=429,
                content_type="text/plain; charset=utf-8",
            )
        ratelimit.hit(RATE_SCOPE, address, rate)
        return super().post(request, *args, **kwargs)

    @method_decorator(sensitive_variables("data"))
    def form_valid(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if k not in (HONEYPOT, "consent")}
        if form.cleaned_data.get("consent"):
            data.update(
                consent_purpose=str(self.consent_purpose),
                consent_text=form.fields["consent"].label,
                consent_at=timezone.now(),
            )
        if form.cleaned_data.get(HONEYPOT):
            return self._thanks()  # a bot: discard silently, answer as for a person
        try:
            result = create_lead(data, source=self.source)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(None if field not in form.fields else field, message)
            return self.form_invalid(form)
        response = self._thanks()
        tracking.remember_lead(self.request, response, result.lead.pk)  # only if opted in
        return response

    def _thanks(self):
        return HttpResponseRedirect(f"{self.request.path}?sent=1")
