"""The scenario: its typed parts and the reader of scenario files (the only place TOML is read)."""
