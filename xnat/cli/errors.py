"""The command line's own error: a mistake in how a command was called.

Its own module, so that the commands and :mod:`xnat.cli` (which loads the commands) can
both import it without importing each other.
"""

__all__ = ["CommandError"]


class CommandError(Exception):
    """A mistake in how the command was called; its message is shown to the user."""
