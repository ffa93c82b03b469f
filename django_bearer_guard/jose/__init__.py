"""JSON Object Signing and Encryption without Django: algorithms, keys and compact tokens."""
