"""Outbound HTTP: call another service from a handler.

The host sends a request only to hosts the operator lists in the plugin's
`allowed_outbound_hosts` (`piston.toml`), within the call's caps (requests per call,
response size) and its deadline. Redirects come back as they are (3xx with a
`location`); the host follows none::

    from piston_guest import http

    answer = http.get("https://api.example.com/authors/ada")
    if answer.status == 200:
        author = answer.json()

Every failure raises `HttpError`, whose `kind` says what happened, with the same names
in the Rust and JavaScript SDKs: `denied`, `prohibited`, `limit`, `too-large`,
`timeout`, `invalid-request`, `body`, `failed`. Left uncaught it is a failure: the
client gets a 500, the operator the message in the host log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as types

from . import _json

__all__ = ["HttpError", "Response", "get", "post", "post_json", "send"]

# How much of the body one read asks for, and how much one write may hand the host
# (`wasi:io` allows 4096 bytes per `blocking-write-and-flush`).
_READ_CHUNK = 64 * 1024
_WRITE_CHUNK = 4096


class HttpError(Exception):
    """An outbound request that failed: `kind` says how, `message` in words."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"outbound request {kind}: {message}")
        self.kind = kind
        self.message = message


class Response:
    """An upstream's answer, whole: `status`, `headers` (names lower-case, in the
    order they came) and `body` (bytes)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> Optional[str]:
        """The first value of the header `name` (any case)."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def text(self) -> str:
        """The body as UTF-8 text (invalid sequences replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        try:
            return _json.loads(self.body)
        except ValueError as error:
            raise HttpError("body", f"the response is not the JSON expected: {error}") from None


def get(url: str) -> Response:
    """`GET url`."""
    return send("GET", url)


def post(url: str, content_type: str, body: bytes) -> Response:
    """`POST url` with `body` of `content_type`."""
    return send("POST", url, [("content-type", content_type)], body)


def post_json(url: str, value: Any) -> Response:
    """`POST url` with `value` as a JSON body."""
    return post(url, "application/json", _json.dumps(value).encode())


_METHODS = {
    "GET": types.Method_Get,
    "HEAD": types.Method_Head,
    "POST": types.Method_Post,
    "PUT": types.Method_Put,
    "PATCH": types.Method_Patch,
    "DELETE": types.Method_Delete,
    "OPTIONS": types.Method_Options,
}

_KINDS = {
    types.ErrorCode_HttpRequestDenied: "denied",
    types.ErrorCode_DestinationIpProhibited: "prohibited",
    types.ErrorCode_ConnectionLimitReached: "limit",
    types.ErrorCode_HttpResponseBodySize: "too-large",
    types.ErrorCode_ConnectionTimeout: "timeout",
    types.ErrorCode_ConnectionReadTimeout: "timeout",
    types.ErrorCode_HttpResponseTimeout: "timeout",
    types.ErrorCode_HttpRequestUriInvalid: "invalid-request",
    types.ErrorCode_HttpRequestMethodInvalid: "invalid-request",
    types.ErrorCode_HttpRequestUriTooLong: "invalid-request",
}

_MESSAGES = {
    "denied": "the host is not in the plugin's allowed_outbound_hosts",
    "prohibited": "the host resolves to an internal address no allowed_outbound_hosts "
    "entry names",
    "limit": "the call has sent as many requests as it may",
    "too-large": "the response body is larger than the call may receive",
}


def _from_code(code: Any) -> HttpError:
    kind = _KINDS.get(type(code), "failed")
    return HttpError(kind, _MESSAGES.get(kind, type(code).__name__.removeprefix("ErrorCode_")))


def send(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    body: Optional[bytes] = None,
) -> Response:
    """Sends `method url` with `headers` and an optional `body`; reads the whole answer."""
    if body is not None:
        # A declared length rather than chunks: not every upstream takes a chunked body.
        headers = [*headers, ("content-length", str(len(body)))]
    request = _build(method, url, headers)
    outgoing = request.body()
    try:
        pending = outgoing_handler.handle(request, None)
    except Err as error:
        outgoing.__exit__(None, None, None)
        raise _from_code(error.value) from None
    with pending:
        if body:
            with outgoing.write() as stream:
                try:
                    for start in range(0, len(body), _WRITE_CHUNK):
                        stream.blocking_write_and_flush(body[start : start + _WRITE_CHUNK])
                except Err as error:
                    failed = _stream_error(error.value)
                else:
                    failed = None
            if failed is not None:
                types.OutgoingBody.finish(outgoing, None)
                raise _answer_error(pending) or failed
        try:
            types.OutgoingBody.finish(outgoing, None)
        except Err as error:
            raise _from_code(error.value) from None
        with _answer(pending) as response:
            status = response.status()
            with response.headers() as fields:
                answer_headers = [
                    (name, value.decode("utf-8", "replace")) for name, value in fields.entries()
                ]
            incoming = response.consume()
            try:
                data = _read_all(incoming)
            finally:
                types.IncomingBody.finish(incoming).__exit__(None, None, None)
    return Response(status, answer_headers, data)


def _build(method: str, url: str, headers: Sequence[tuple[str, str]]) -> Any:
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise HttpError("invalid-request", f"`{url}` is not an absolute http(s) URL")
    schemes = {"http": types.Scheme_Http(), "https": types.Scheme_Https()}
    if scheme.lower() not in schemes:
        raise HttpError("invalid-request", f"the scheme `{scheme}` is not http or https")
    split = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:split], rest[split:]
    if not authority:
        raise HttpError("invalid-request", f"`{url}` names no host")
    if not path.startswith("/"):
        path = "/" + path
    try:
        fields = types.Fields.from_list(
            [(name.lower(), value.encode()) for name, value in headers]
        )
    except Err as error:
        raise HttpError(
            "invalid-request", f"a header cannot be sent: {type(error.value).__name__}"
        ) from None
    request = types.OutgoingRequest(fields)
    verb = method.upper()
    wit_method = _METHODS[verb]() if verb in _METHODS else types.Method_Other(verb)
    try:
        request.set_method(wit_method)
        request.set_scheme(schemes[scheme.lower()])
        request.set_authority(authority)
        request.set_path_with_query(path)
    except Err:
        request.__exit__(None, None, None)
        raise HttpError("invalid-request", f"`{verb} {url}` cannot be sent") from None
    return request


def _answer(pending: Any) -> Any:
    """Waits for the response's head."""
    while True:
        result = pending.get()
        if result is None:
            with pending.subscribe() as ready:
                ready.block()
            continue
        if isinstance(result, Err):
            raise HttpError("failed", "the response was already taken")
        inner = result.value
        if isinstance(inner, Ok):
            return inner.value
        raise _from_code(inner.value)


def _answer_error(pending: Any) -> Optional[HttpError]:
    """Why the host stopped taking a request's body, if its response says."""
    try:
        _answer(pending).__exit__(None, None, None)
    except HttpError as error:
        return error
    return None


def _read_all(incoming: Any) -> bytes:
    chunks = []
    with incoming.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(_READ_CHUNK))
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    return b"".join(chunks)
                raise _stream_error(error.value) from None


def _stream_error(error: Any) -> HttpError:
    """A failed read or write, by the HTTP error behind it when there is one."""
    if isinstance(error, streams.StreamError_Closed):
        return HttpError("body", "the stream closed early")
    with error.value as failure:
        code = types.http_error_code(failure)
        if code is not None:
            return _from_code(code)
        message = failure.to_debug_string()
    lower = message.lower()
    if "body size exceeds limit" in lower or "responsebodysize" in lower:
        return HttpError("too-large", _MESSAGES["too-large"])
    if "timeout" in lower or "timed out" in lower:
        return HttpError("timeout", message)
    return HttpError("body", message)
