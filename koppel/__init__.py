"""koppel's public package for plugin authors."""
