"""The ``xnat`` command."""
