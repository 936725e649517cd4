"""Small data shipped with the package (loaded with ``importlib.resources``, never downloaded)."""
