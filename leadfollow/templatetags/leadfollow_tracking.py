"""``{% load leadfollow_tracking %}{{ "https://example.com/pricing/"|tracked_for:lead }}``: a link
in an e-mail to a lead that tells the site's TrackingMiddleware who clicked it."""

from django import template

from leadfollow.conf import lf_settings
from leadfollow.tracking import tracked_url

register = template.Library()


@register.filter
def tracked_for(url: str, lead) -> str:
    """``url`` with the lead's signed token, when tracking is enabled; else ``url``."""
    lead_id = getattr(lead, "pk", lead)
    if not (lf_settings.TRACKING_ENABLED and lead_id):
        return str(url)
    return tracked_url(str(url), int(lead_id))
