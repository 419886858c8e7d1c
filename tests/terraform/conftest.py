"""Marks the tests that use the sample applied to moto (the `deployed` fixture of
test_terraform.py): scripts/run-tests.py runs them (`-m deployed`) beside the rest
(`-m "not deployed"`), one apply and one destroy in their own lane."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "deployed: uses the sample applied to moto (test_terraform.py's `deployed`)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "deployed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.deployed)
