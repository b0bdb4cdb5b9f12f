"""Wiring of the OTel contrib instrumentations, one module per library."""
