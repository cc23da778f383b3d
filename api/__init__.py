"""koppel's HTTP API for the LVS: login decisions, connection checks, school status, networks."""
