"""Tests of the sync engine (snapshot → plan → apply) and the export."""
