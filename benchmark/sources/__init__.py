"""Where input bytes come from: local files, zip members and http(s) URLs, with their safety caps."""
