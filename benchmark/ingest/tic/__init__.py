"""Payers' Transparency-in-Coverage files: the in-network reader (reader), its byte scanner (scan, items, workers), row building (rows) and tables of contents (toc)."""
