"""Fixtures of the serving tests."""

import pytest

from tests.support.web import served_page


@pytest.fixture(scope="module")
def server():
    """The design page: `python -m http.server` in the repository root on a free localhost port."""
    with served_page() as url:
        yield url
