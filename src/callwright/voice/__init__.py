"""The per-call voice runtime and its engines. Today: the catalog of voices the install can speak."""
