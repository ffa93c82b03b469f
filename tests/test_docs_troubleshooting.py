"""The troubleshooting page gives every refusal reason a row of its table."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard import _authenticate, exceptions

PAGE = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.rst"

# The wheel environment runs the tests away from the source tree, without the docs.
pytestmark = pytest.mark.skipif(not PAGE.is_file(), reason="the docs are not next to the tests")


def _leaves(base: type[exceptions.BearerGuardError]) -> set[str]:
    found = set()
    for cls in base.__subclasses__():
        # Only the library's own: tests may subclass them.
        if cls.__module__ == exceptions.__name__:
            found.add(cls.__name__)
            found.update(_leaves(cls))
    return found


def _table_rows() -> list[str]:
    return re.findall(r"^   \* - ``(\w+)``", PAGE.read_text(encoding="utf-8"), re.MULTILINE)


@pytest.mark.parametrize("name", sorted(_leaves(exceptions.InvalidToken) | {"InsufficientScope"}))
def test_troubleshooting_table_has_a_row_for_each_refusal(name: str) -> None:
    assert name in _table_rows()


def test_troubleshooting_table_names_only_refusals_that_exist() -> None:
    rows = _table_rows()
    assert len(rows) == len(set(rows))
    for name in rows:
        assert issubclass(getattr(exceptions, name), exceptions.BearerGuardError)


def test_troubleshooting_logging_snippet_sends_the_refusals_logger_at_info() -> None:
    python = re.compile(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", re.MULTILINE)
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(python.findall(PAGE.read_text(encoding="utf-8"))[0]), namespace)
    logging_settings = namespace["LOGGING"]
    # The logger the refusals go to, at INFO (their level), through a handler the snippet defines.
    logger = logging_settings["loggers"][_authenticate.logger.name]
    assert logger["level"] == "INFO"
    assert set(logger["handlers"]) <= set(logging_settings["handlers"])
