"""The package version (its own module, so that low modules can read it without importing the package)."""

__version__ = "0.9.0.dev0"
