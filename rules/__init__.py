"""The rules engine and the catalogue of checks against the school's Положение. Reads the cache only."""
