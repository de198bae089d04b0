"""Command-line help generated from a stage's settings, so `--help` lists every variable."""

from __future__ import annotations

import argparse

from pydantic import BaseModel
from pydantic_settings import BaseSettings


def _env_lines(settings_cls: type[BaseSettings]) -> list[str]:
    prefix = settings_cls.model_config.get("env_prefix", "")
    lines = []
    for name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            lines += _env_lines(annotation)
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None else f" (default: {default})"
        description = f": {field.description}" if field.description else ""
        lines.append(f"  {(prefix + name).upper()}{shown}{description}")
    return lines


def parser_for(prog: str, description: str, settings_cls: type[BaseSettings]) -> argparse.ArgumentParser:
    """Return a parser whose help lists every environment variable that configures the stage."""
    epilog = "configuration (environment variables):\n" + "\n".join(_env_lines(settings_cls))
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
