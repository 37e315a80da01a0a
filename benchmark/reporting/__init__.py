"""Reporting: charts, the report model and its HTML, the papermill runner, exports, decks and batches."""
