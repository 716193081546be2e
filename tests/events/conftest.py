from tests.api.conftest import org  # noqa: F401  (the demo organisation fixture)
