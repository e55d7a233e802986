"""Conformance with the Vocobase docs pages: each endpoint's documented request example is sent
and every documented response field is checked by name and JSON type (``shapes``), on SQLite and
PostgreSQL. One module per docs area; the field maps are written from the pages' facts."""
