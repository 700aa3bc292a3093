"""The benchmark's Python-sized plugin.

A minimal Piston handler written in Python and built with componentize-py: it embeds
a whole CPython runtime, so the component is large, which is what the hot-reload
benchmark (time from dropping the .wasm into the plugin directory to the first
response) needs. It serves `GET /hello` with `{"hello": "python"}`.
"""

from typing import List

from wit_world import exports
from wit_world.exports import handler
from wit_world.imports.types import Method, PluginInfo, Request, ResourceSpec


class ItemStream(handler.ItemStream):
    """Never used: the world exports the resource, so it must exist."""

    def next(self, max: int) -> List[str]:
        return []


class Handler(exports.Handler):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name="hello-py",
            version="0.1.0",
            description="Says hello from Python (the hot-reload benchmark's large plugin).",
            resources=[
                ResourceSpec(
                    name="hello",
                    description="A greeting.",
                    routes=["/hello"],
                    allowed_methods=[Method.GET],
                    anonymous_methods=[],
                    fields=[],
                    exclude=[],
                    throttles=[],
                    schemas=[],
                    item_uri=None,
                    request_headers=[],
                )
            ],
        )

    def handle(self, request: Request) -> handler.Response:
        return handler.Response(
            status=200, headers=[], body=handler.Body_Data('{"hello": "python"}')
        )
