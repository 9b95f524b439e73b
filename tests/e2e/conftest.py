import importlib.util

import pytest


@pytest.fixture(autouse=True)
def _patient_assertions():
    """Assertions on the page wait up to 30 s (Playwright's default is 5): two cores are shared with a Celery
    worker, the sandbox and other test runs, and a page under load can take more than 5 s to answer a click.
    Put back afterwards, as the setting is Playwright's, not ours."""
    if importlib.util.find_spec("playwright") is None:
        yield  # the browser fixture skips (or fails under CI) and says why
        return
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)
