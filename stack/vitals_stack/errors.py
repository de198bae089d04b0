"""Errors of the stack tool; the CLI prints their message and exits non-zero."""


class StackError(Exception):
    """A failure whose message names the failed step and the fix for the user."""
