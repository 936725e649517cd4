"""The core library of the NAS service: proxies, latency, search, storage and the CLI.

``nas`` imports neither FastAPI nor Ray; ``api`` and ``workers`` build on it.
"""

__version__ = "0.1.0"
