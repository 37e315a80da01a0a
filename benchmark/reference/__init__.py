"""Reference data: Medicare fee schedules, the plain-language code catalog and payer policies."""
