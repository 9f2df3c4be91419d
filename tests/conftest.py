"""Fixture plugins: each real part has its own module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.ingress",
    "tests.fixtures.sandbox",
    "tests.fixtures.setup_repo",
    "tests.fixtures.github_sim",
    "tests.fixtures.llm_sim",
    "tests.fixtures.flow_deps",
    "tests.fixtures.app_processes",
]
