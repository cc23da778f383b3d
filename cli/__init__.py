"""The koppel command line (the outermost layer: it may import every other one)."""
