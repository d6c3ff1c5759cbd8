"""README.md is what a new user reads first: keep it true."""

from assistant.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_two_setup_commands_at_the_top():
    head = README.split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head


def test_every_setting_is_documented():
    for name, default, _ in Settings.documented():
        assert f"| `{name}` | `{default}` |" in README, (
            f"{name} (default {default}) is missing or has another default in README.md's settings table")


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
