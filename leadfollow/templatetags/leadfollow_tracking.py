"""``{% load leadfollow_tracking %}{{ "https://example.com/pricing/"|tracked_for:lead }}``: a link
in an e-mail to a lead that tells the site's TrackingMiddleware who clicked it."""

from django import template

from leadfollow.tracking import tracked_url

register = template.Library()


@register.filter
def tracked_for(url: str, lead) -> str:
    lead_id = getattr(lead, "pk", lead)
    return tracked_url(str(url), int(lead_id)) if lead_id else str(url)
