"""Use cases. Keyword-only functions taking the session (and the tenant); transactions live here."""
