"""Tests of koppel.testing, the contract-test kit."""
