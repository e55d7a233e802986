"""SQLAlchemy 2 models, the async engine and Alembic migrations (same schema on SQLite and PostgreSQL)."""
