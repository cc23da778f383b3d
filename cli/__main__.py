"""'python -m cli' runs the koppel command (for environments without the console script)."""

from cli.main import main

main()
