"""What leaves the console as a file: a query's rows as CSV, and a job's input or output.

Both are attachments, never pages: a browser saves them and renders nothing a job or a
query produced.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from arq_batch.console.app import console_of, render
from arq_batch.kernel.errors import ArqError, MissingObject, PoisonMessage
from arq_batch.kernel.uris import S3Uri


def routes() -> list[Route]:
    """The download routes."""
    return [Route("/query.csv", query_csv), Route("/download", download)]


def query_csv(request: Request) -> Response:
    """The same statement's rows as CSV (same checks and limits)."""
    console, sql = console_of(request), request.query_params.get("sql", "").strip()
    try:
        result, _ = console.source.run_people(sql)
    except ArqError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return Response(out.getvalue(), media_type="text/csv", headers={
        "content-disposition": 'attachment; filename="query.csv"'})


def download(request: Request) -> Response:
    """An input or output, as a file to save (``?uri=s3://...``, allowed buckets only).
    Always an attachment of opaque bytes: a browser never renders what a job wrote."""
    console, text = console_of(request), request.query_params.get("uri", "")
    try:
        uri = S3Uri.parse(text)
    except PoisonMessage:
        uri = None
    if uri is None or uri.bucket not in console.settings.buckets or not uri.key:
        return render(request, "message.html", 404, title="Not here",
                      message=f"{text!r} is not an object of the console's buckets.")
    try:
        info, body = console.store.open_object(uri)
    except MissingObject:
        return render(request, "message.html", 404, title="No such object", message=text)
    name = quote(uri.name or "download", safe="")
    return StreamingResponse(iter(lambda: body.read(1 << 20), b""),
                             media_type="application/octet-stream", headers={
                                 "content-disposition": f"attachment; filename*=UTF-8''{name}",
                                 "content-length": str(info.size)})
