"""Analysis: rates placed on the map and compared with Medicare, and benchmark statistics."""
