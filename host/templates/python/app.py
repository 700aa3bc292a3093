"""{{name}}: a Piston handler plugin.

Build it with `piston build`, which puts `{{name}}.wasm` where `piston serve` finds it.
"""

from piston_guest import Resource, plugin


class Greeting(Resource):
    """Says hello at `/{{name}}/{who}`."""

    name = "greeting"
    routes = ["/{{name}}/{who}"]
    # What `read` answers with, for the generated API documentation.
    responses = {
        "GET": {
            "type": "object",
            "properties": {"hello": {"type": "string"}},
            "required": ["hello"],
        }
    }

    def read(self, request, who):
        """Greets `who`."""
        return {"hello": who}


Handler = plugin(
    name="{{name}}",
    version="0.1.0",
    description="A Piston handler plugin.",
    resources=[Greeting],
)
