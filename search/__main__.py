"""`python -m search`: the same command as `search`."""

from search.cli import main

main(prog_name="search")
