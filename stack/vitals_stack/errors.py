"""Errors of the stack tool; the CLI prints their message and exits non-zero."""


class StackError(Exception):
    """A failure with a message that tells the user what to do next."""
