"""xnatpy 0.8.1's own unit tests, run against this package (see ``test_xnatpy_suite.py``)."""
