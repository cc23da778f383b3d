"""OneRoster 1.2 CSV bulk packages, dropped in a directory, as a koppel identity source."""
