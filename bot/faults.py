"""Named steps where the test suite can make the bot die, to prove that nothing is lost.

`BOT_FAULT=die:<step>` kills the process with SIGKILL when a job reaches that step: `claimed`,
`placeholder` (its progress comment just posted), `generated` or `after-post`. Outside the test
suite it is empty and every checkpoint is a no-op.
"""

from __future__ import annotations

import os
import signal


def checkpoint(fault: str | None, step: str) -> None:
    if fault == f"die:{step}":
        os.kill(os.getpid(), signal.SIGKILL)
