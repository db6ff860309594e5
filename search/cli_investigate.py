"""The `search batch` command and the export of `search query --format csv|jsonl`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from search.cli_common import fail_cleanly, index_option
from search.config import Settings
from search.errors import InvalidQuery
from search.investigate.batch_input import BATCH_LIMIT, InputFormat, guess_format, read_batch
from search.ranking.query import Mode, Query, choices


def _write(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))


@click.command("batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@click.option("--mode", type=click.Choice(choices(Mode)), default=Mode.KEYWORD.value,
              show_default=True, help="Mode of the rows that do not give one.")
@click.option("--input", "input_format", type=click.Choice(choices(InputFormat)),
              help="text (one query a line) or csv (a query column; optional mode, lang, "
                   "date_from, date_to). Default: csv for a .csv file or a query header.")
@click.option("--format", "output_format", type=click.Choice(["csv", "json"]),
              default="csv", show_default=True, help="Output on stdout.")
@click.option("--hits", "first_hits", type=click.IntRange(1, 20), default=3,
              show_default=True, help="First hits shown per query.")
@fail_cleanly
def batch(file: Path, index_dir: Path, mode: str, input_format: str | None,
          output_format: str, first_hits: int) -> None:
    """Search a list of queries (names, topics) and print one row per query: its matches,
    their count per language, the spellings found and the first hits with why they matched.

    FILE is a text file with one query a line, or a CSV with a query column and optional
    per-row mode, lang (codes separated by ;) and date_from / date_to. A line that cannot
    be read is reported with its line number and the others still run. At most 10,000
    queries; a progress line goes to stderr.

    Example: search batch names.csv --format csv > found.csv
    """
    from search.engine import Engine
    from search.investigate.batch import results_csv, results_json, run_batch

    text = file.read_text(encoding="utf-8-sig", errors="replace")
    fmt = InputFormat(input_format) if input_format else guess_format(file.name, text)
    found = read_batch(text, fmt, BATCH_LIMIT)
    for problem in found.problems:
        click.echo(f"{file}:{problem.line}: {problem.reason}", err=True)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done}/{total} queries, {time.perf_counter() - started:.1f} s",
                   err=True, nl=done == total)

    with Engine(index_dir, Settings()).open() as engine:
        results = run_batch(engine, found, Mode(mode), first_hits, progress)
    failed = [r for r in results if r.error is not None and r.mode]
    for result in failed:
        click.echo(f"{file}:{result.line}: {result.error}", err=True)
    if output_format == "json":
        _write(results_json(results) + "\n")
    else:
        for line in results_csv(results):
            _write(line)



def export_query(engine_query: Query, index_dir: Path, fmt: str, every: bool,
                 settings: Settings) -> None:
    """What `search query --format csv|jsonl` prints: the page's matches, or with --all
    every match up to EXPORT_LIMIT, streamed as they are made."""
    from search.engine import Engine
    from search.investigate.export import EXPORT_LIMIT, ExportFormat, export_lines

    limit = EXPORT_LIMIT if every else engine_query.page * engine_query.size
    with Engine(index_dir, settings).open() as engine:
        try:
            matching = engine.matches(engine_query, limit)
        except InvalidQuery as exc:
            raise click.ClickException(str(exc)) from None
        for line in export_lines(matching, ExportFormat(fmt), limit):
            _write(line)
    if matching.cut:
        click.echo(f"cut at {limit} rows: more paragraphs match", err=True)
