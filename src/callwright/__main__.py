"""``python -m callwright``: the same as the ``callwright`` command."""

from callwright.cli.main import app

app(prog_name="callwright")
