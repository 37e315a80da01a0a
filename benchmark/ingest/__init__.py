"""Readers that turn public price-transparency files into normalized rate rows (see benchmark.schema.RateSchema)."""
