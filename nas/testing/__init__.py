"""Support for the end-to-end tests and the benches: the real service in a subprocess, a headless browser.

Nothing in the product imports it; ``tests/e2e`` and ``bench/`` both do, so neither imports the other.
"""
