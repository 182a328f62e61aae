"""How a vlmkit process speaks to the person at the terminal, for the ``vlmkit`` command and for
``python -m vlmkit.train`` (each process the Composer launcher starts): a user error is one line on
stderr, an interrupt names its exit code, a plugin that failed to load is one warning line."""

from __future__ import annotations

import os
import sys
from typing import Callable

# Errors a user can fix from the message alone: printed as one line, no traceback
# (set VLMKIT_DEBUG=1 for the traceback).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, FileNotFoundError, PermissionError)


def run_reporting(prog: str, action: Callable[[], int | None]) -> int:
    """The exit code of ``action()``. A user error prints ``PROG: error: MESSAGE`` on stderr and
    gives 1; an interrupt prints ``PROG: interrupted[: where a rerun resumes]`` and gives its
    ``exit_code`` (130 for Ctrl-C, 143 for SIGTERM: :class:`vlmkit.train.stages.Interrupted`)."""
    try:
        return int(action() or 0)
    except USER_ERRORS as exc:
        if os.environ.get("VLMKIT_DEBUG"):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt as exc:
        print(f"{prog}: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr, flush=True)
        return getattr(exc, "exit_code", 130)


def warn_plugin_failures(command: str) -> list:
    """Load the plugins and print each failure as one ``vlmkit COMMAND: warning:`` line on stderr
    (instead of a Python warning with its source line); returns the failures."""
    import warnings

    from vlmkit.registry import PluginWarning, plugin_failures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        failures = plugin_failures()
    for failure in failures:
        print(f"vlmkit {command}: warning: {failure}", file=sys.stderr)
    return failures
