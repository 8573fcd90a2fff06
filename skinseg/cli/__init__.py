"""The ``skinseg`` command line."""
