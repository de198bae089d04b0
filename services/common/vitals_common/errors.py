"""Errors every stage reports the same way."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable

from pydantic import ValidationError
from pydantic_settings import BaseSettings

_SECRET_WORDS = re.compile(r"password|secret|token|key", re.IGNORECASE)


class StartupError(RuntimeError):
    """A dependency is unreachable or the configuration cannot work; the message names it and the fix."""


def _env_prefix(model_name: str) -> str:
    """Return the environment prefix of the settings class named in a ValidationError."""
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls.__name__ == model_name:
            return str(cls.model_config.get("env_prefix", "")).upper()
        pending.extend(cls.__subclasses__())
    return ""


def run_cli(main: Callable[[], int | None], service: str) -> int:
    """Run a stage's main, turning configuration and start-up errors into a one-line message and exit 2.

    Any other exception is logged with its traceback and gives exit status 1.
    """
    try:
        return int(main() or 0)
    except ValidationError as exc:
        prefix = _env_prefix(exc.title)
        lines = []
        for error in exc.errors():
            field = prefix + "_".join(str(p) for p in error["loc"]).upper()
            shown = "***" if _SECRET_WORDS.search(field) else repr(error.get("input"))
            lines.append(f"  {field}: {error['msg']} (got {shown})")
        print(f"{service}: invalid configuration:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"{service}: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Logged through the stage's formatter, so that a log collector keeps the traceback as one event.
        logging.getLogger(service).exception("stopped by an unexpected error")
        return 1
