"""Normalizing published values: payer identities, billing codes, amounts and units."""
