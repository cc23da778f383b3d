"""OneRoster 1.2 as koppel identity sources: CSV bulk zips in a directory, and a REST service."""
