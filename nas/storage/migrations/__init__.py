"""Alembic migrations of the service's database; run through ``nas.storage`` (``open_store``)."""
