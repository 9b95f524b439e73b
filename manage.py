#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.settings_checks import SettingsRefused

    try:
        execute_from_command_line(sys.argv)
    except SettingsRefused as refused:
        sys.exit(str(refused))  # its lines alone, on stderr, exit status 1


if __name__ == "__main__":
    main()
