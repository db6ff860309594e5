"""Text from outside (file names, ids) as it may be printed or logged: control characters
escaped, so that an ESC sequence cannot clear a terminal nor a newline forge a log line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """`text` with each control character (and line or paragraph separator) as \\xNN or
    \\uNNNN, the way Python writes it in a string literal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
