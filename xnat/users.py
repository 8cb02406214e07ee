"""xnatpy's documented path ``xnat.users``: an alias of :mod:`xnat.services.users`."""

from .services.users import User, Users

__all__ = ["User", "Users"]
