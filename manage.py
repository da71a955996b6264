#!/usr/bin/env python
"""Django's command-line utility, with one-line errors when a service is missing."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    from core.cli import run_management_command

    sys.exit(run_management_command(sys.argv))


if __name__ == "__main__":
    main()
