"""The shipped device latency profiles, ``<device>__<space>.json`` (package data); their format: FORMAT.md."""
