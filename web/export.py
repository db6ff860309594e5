"""/api/search's other answers: every match as CSV or JSON Lines (`format=`), streamed as
the engine makes them, and the matches over time (`interval=`) in `facets.dates`."""

from __future__ import annotations

from flask import Response, stream_with_context
from werkzeug.datastructures import MultiDict

from search.engine import Engine
from search.errors import InvalidQuery
from search.investigate.export import EXPORT_LIMIT, MEDIA_TYPES, ExportFormat, export_lines
from search.investigate.timeline import Interval, dates_facet
from search.ranking.query import Query
from search.results import SearchPage

FORMATS = ("json", *(f.value for f in ExportFormat))
INTERVALS = ("auto", *(i.value for i in Interval))


def export_format(args: MultiDict) -> ExportFormat | None:
    """The export `format=` asks for; None for the usual JSON page."""
    value = args.get("format", "json")
    if value not in FORMATS:
        raise InvalidQuery(f"format must be one of {', '.join(FORMATS)}, not {value[:40]!r}")
    return None if value == "json" else ExportFormat(value)


def export_response(engine: Engine, query: Query, fmt: ExportFormat) -> Response:
    """Every match of `query` (up to EXPORT_LIMIT) as a download, made while it is sent."""
    matching = engine.matches(query, EXPORT_LIMIT)
    response = Response(stream_with_context(export_lines(matching, fmt, EXPORT_LIMIT)),
                        mimetype=MEDIA_TYPES[fmt].split(";")[0])
    response.headers["Content-Type"] = MEDIA_TYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="matches.{fmt.value}"'
    response.headers["X-Matches"] = str(matching.count)
    response.headers["X-Matches-Cut"] = "true" if matching.cut else "false"
    return response


def interval_facet(page: SearchPage, args: MultiDict) -> dict[str, object]:
    """`facets.dates` and `facets.interval` for `interval=` (auto: by day for a short span,
    by month up to ten years, else by year)."""
    value = args.get("interval", "auto")
    if value not in INTERVALS:
        raise InvalidQuery(
            f"interval must be one of {', '.join(INTERVALS)}, not {value[:40]!r}")
    return dates_facet(page.facets.dates, None if value == "auto" else Interval(value))
