"""Plain code shared by the test modules: no fixtures (those are in the conftest files), no tests."""
