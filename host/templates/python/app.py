"""{{name}}: a Piston handler plugin.

Build it with `piston build`, which puts `{{name}}.wasm` where `piston serve` finds it.
"""

from piston_guest import Resource, plugin


class Greeting(Resource):
    """`GET /{{name}}/{who}`: a greeting."""

    name = "greeting"
    description = "Says hello."
    routes = ["/{{name}}/{who}"]

    def read(self, request, who):
        return {"hello": who}


Handler = plugin(
    name="{{name}}",
    version="0.1.0",
    description="A Piston handler plugin.",
    resources=[Greeting],
)
