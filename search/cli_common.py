"""What every `search` command shares: errors as one line, the --index option. Apart from
search/cli.py so that command groups in their own modules (search/cli_alerts.py) can use it
without importing the CLI that registers them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from search.errors import SearchError
from search.printable import printable

P = ParamSpec("P")
R = TypeVar("R")


def fail_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn engine errors into one line on stderr and a non-zero exit, never a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SearchError as exc:
            raise click.ClickException(printable(str(exc))) from None
        except BrokenPipeError:
            raise  # the reader stopped reading (`| head`): click ends quietly, as tools do
        except OSError as exc:
            raise click.ClickException(
                printable(f"{exc.strerror or exc}: {exc.filename or ''}")) from None

    return wrapper


def index_option(command: Callable) -> Callable:
    return click.option(
        "--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
        default=Path("indexes"), show_default=True, help="Index folder.",
    )(command)
