"""Production settings: the base module as it is (its defaults are the production ones), plus
what only a deployment can provide: the portal's public address, SITE_URL.

Links in mails (tracking links, agents' links, account verification) are built on SITE_URL
(core.links), outside any request: without it they would point to localhost. So production
refuses to start unless it is the https address of a host the portal serves (ALLOWED_HOSTS).
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import site_url_problem

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, DEBUG, GRC_SITE_URL

if not DEBUG:
    _problem = site_url_problem(GRC_SITE_URL, ALLOWED_HOSTS)
    if _problem:
        raise ImproperlyConfigured(_problem)
else:
    GRC_SITE_URL = GRC_SITE_URL or "http://localhost:8000"
