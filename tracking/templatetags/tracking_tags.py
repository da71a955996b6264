"""Template helpers of the timeline."""

from django import template

register = template.Library()


@register.filter
def headline(event, audience: str = "public") -> str:
    """An event's plain-words title for a citizen: ``{{ event|headline:"requester" }}``."""
    return event.headline(audience)
