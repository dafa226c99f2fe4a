"""Semantic scene representation networks: data, SRN model, semantic head, test-time fitting, rendering."""
