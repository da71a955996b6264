"""Production settings: the base module as it is (its defaults are the production ones)."""

from .base import *  # noqa: F403
