"""Coverage-guided fuzz harnesses for the parsers that read attacker input (see README.md)."""
