"""`python -m bot`: see bot/cli/main.py."""

import sys

from bot.cli.main import main

sys.exit(main())
