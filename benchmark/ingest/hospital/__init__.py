"""Hospital standard-charge files (45 CFR 180): the reader (reader), CMS CSV layouts (csv_layout), CMS JSON (json_layout), pre-template chargemasters (legacy) and the CSV byte reader (csvtext)."""
