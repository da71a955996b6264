"""Phone numbers in templates: ``{{ service.phone|tel_link }}`` is a link to dial it."""

from django import template
from django.utils.html import format_html

from core.phones import tel_uri

register = template.Library()


@register.filter
def tel_href(number: str) -> str:
    """The number's ``tel:`` URI (E.164), or "" when it is not a number."""
    return tel_uri(number)


@register.filter
def tel_link(number: str) -> str:
    """A link that dials the number, showing it as written; the text alone if not a number."""
    uri = tel_uri(number)
    if not uri:
        return format_html("{}", number or "")
    return format_html('<a href="{}" class="tel">{}</a>', uri, number)
