"""Benchmark suite: our speed and memory against xnatpy 0.8.1, pyxnat 1.6.4 and the machine's limit.

Run ``python -m tests.benchmarks [--quick] [--json FILE] [--strict]``. Only
``test_smoke.py`` is collected by pytest; everything else runs outside pytest.
"""
