"""koppel's public face for plugin authors: import from ``koppel.plugin``, not from core."""
