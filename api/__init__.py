"""The FastAPI service: thin routes over ``nas`` under ``/api/v1``."""
