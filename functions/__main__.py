"""`python -m functions` is the `switchyard` command."""

from functions.cli import main

main()
