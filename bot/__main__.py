"""`python -m bot`: see bot/cli/main.py."""

import gc
import sys

# Starting builds hundreds of classes and thousands of objects that live as long as the process;
# collecting while they are built finds nothing and costs about a tenth of the start. Each
# command turns collection back on (bot/cli/main.py), `serve` after freezing what it built.
gc.disable()

from bot.cli.main import main  # noqa: E402 - after the collector is off, on purpose

sys.exit(main())
