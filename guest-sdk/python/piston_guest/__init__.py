"""Write Piston handler plugins in Python.

A plugin is a WebAssembly component serving one or more REST resources, built from a
Python module with componentize-py. You write only what django-piston's handlers did,
`read`, `create`, `update` and `delete`, and return data; the Piston host does the
routing, authentication, throttling, body decoding, validation, field filtering and
output formats::

    from piston_guest import Resource, plugin, rc

    class Greeting(Resource):
        name = "greeting"
        routes = ["/hello/{name}"]

        def read(self, request, name):
            return {"hello": name}

    Handler = plugin(name="greeting", version="0.1.0", resources=[Greeting])

The pieces:

- `Resource`: a resource's attributes (routes, fields, throttles, schemas, responses)
  and verbs, whose docstrings document the API.
- `Request`: path params, query, headers, the decoded body, the principal.
- `Response`, `stream` and `rc`: data, raw bytes, streams, django-piston's codes.
- `Violations`: field-level problems answered together as one 400.
- `kv` and `config`: the plugin's persistent data and its settings.
- `http`: requests to other services, where the operator allows them.
- `plugin`: makes the `Handler` class componentize-py exports.
"""

from . import config, http, kv, rc
from .errors import Problem, Violations
from .plugin import ItemStream, plugin
from .request import Principal, Request
from .response import Response, stream
from .spec import Method, Resource, SpecError, Throttle, throttle

__all__ = [
    "ItemStream",
    "Method",
    "Principal",
    "Problem",
    "Request",
    "Resource",
    "Response",
    "SpecError",
    "Throttle",
    "Violations",
    "config",
    "http",
    "kv",
    "plugin",
    "rc",
    "stream",
    "throttle",
]
