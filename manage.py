#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import gc
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A machine with no SECRET_KEY is a developer's: its commands (import_sheet, migrate, …)
    # run as the quick start does, with DEBUG on. A deployment sets SECRET_KEY, so DEBUG stays
    # off there unless set; the web and worker processes never come through here.
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    # The process ends here. Freezing what it holds spares the interpreter's shutdown its
    # garbage-collector passes over every object (0.1 s after any command, up to 0.4 s after
    # an import; nothing is left to do then that the collector would have done).
    gc.freeze()


if __name__ == "__main__":
    main()
