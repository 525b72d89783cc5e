"""The one-line message of an expected problem (`CasefinderError`), for tests that read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from foundation.errors import CasefinderError


def one_line_error(call: Callable[..., Any], *args: Any) -> str:
    """`call(*args)` must raise a `CasefinderError` of one line; its message."""
    with pytest.raises(CasefinderError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message, message
    return message
