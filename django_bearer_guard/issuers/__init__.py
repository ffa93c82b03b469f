"""Trusted issuers: their configuration and the registry that finds them by ``iss``."""
