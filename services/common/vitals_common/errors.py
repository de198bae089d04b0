"""Errors every stage reports the same way."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from pydantic import ValidationError

_SECRET_WORDS = re.compile(r"password|secret|token|key", re.IGNORECASE)


class StartupError(RuntimeError):
    """A dependency is unreachable or the configuration cannot work; the message says which and what to do."""


def run_cli(main: Callable[[], int | None], service: str) -> int:
    """Run a stage's main, turning configuration and start-up errors into a one-line message and exit 2."""
    try:
        return int(main() or 0)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            shown = "***" if _SECRET_WORDS.search(field) else repr(error.get("input"))
            lines.append(f"  {field}: {error['msg']} (got {shown})")
        print(f"{service}: invalid configuration:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"{service}: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
