"""The plugin's exports: `describe`, `handle`, and the `item-stream` resource.

componentize-py builds the component from a module that defines `Handler`, a class
implementing the world's `handler` interface. `plugin(...)` makes that class from the
resources, so a plugin module ends with `Handler = plugin(...)`.

Errors cross the boundary in two ways. A problem (`rc` codes, `Violations`) is an
ordinary response whose body is a problem document. Any other exception becomes the
WIT `guest-error`, carrying `ExceptionType: message` and the full traceback: the host
answers 500 and logs both, so a bug is found from the log alone.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import handler
from wit_world.imports import piston_handler_types as wit

from . import _json, rc
from .errors import Problem
from .request import Request
from .response import Response
from .spec import VERBS, Resource, SpecError, check_name, spec_of

__all__ = ["ItemStream", "plugin"]


def _guest_error(error: BaseException) -> wit.GuestError:
    """The WIT error for an exception being handled: its type and message, and the
    traceback of where it was raised."""
    text = str(error)
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return wit.GuestError(message=message, trace=traceback.format_exc())


class ItemStream(handler.ItemStream):
    """The guest side of an `item-stream`: an iterator the host drains in batches.

    Items are serialized one by one as the host pulls them. When producing an item
    raises, the items already produced in that batch are still delivered, and the next
    pull reports the error, which ends the stream.
    """

    def __init__(self, items: Iterable[Any]) -> None:
        self._items: Iterator[Any] = iter(items)
        self._failure: Optional[wit.GuestError] = None

    def next(self, max: int) -> list[str]:  # noqa: A002 - the WIT parameter's name
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise Err(failure)
        batch: list[str] = []
        while len(batch) < max:
            try:
                item = next(self._items)
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001 - every failure ends the stream
                self._failure = _guest_error(error)
            else:
                try:
                    batch.append(_json.dumps(item))
                    continue
                except Exception as error:  # noqa: BLE001
                    self._failure = _guest_error(error)
            # Only failures get here: nothing more is produced after one.
            self._items = iter(())
            if not batch:
                failure, self._failure = self._failure, None
                raise Err(failure)
            break
        return batch


def _to_wit(answer: Any) -> handler.Response:
    """What a verb returned, as the WIT response."""
    if isinstance(answer, Response):
        return _response(answer)
    if isinstance(answer, rc.Code):
        if answer.is_success():
            return handler.Response(answer.status, [], handler.Body_None_())
        return _problem(answer.problem())
    if isinstance(answer, Problem):
        return _problem(answer)
    return _response(Response.data(answer))


def _response(response: Response) -> handler.Response:
    kind, body = response._kind, response._body
    wit_body: handler.Body
    if kind == "data":
        wit_body = handler.Body_Data(body)  # type: ignore[arg-type]
    elif kind == "raw":
        content_type, content = body  # type: ignore[misc]
        wit_body = handler.Body_Raw(handler.RawBody(content_type, content))
    elif kind == "stream":
        wit_body = handler.Body_Items(ItemStream(body))  # type: ignore[arg-type]
    else:
        wit_body = handler.Body_None_()
    return handler.Response(response.status, list(response.headers), wit_body)


def _problem(problem: Problem) -> handler.Response:
    violations = [wit.Violation(pointer, message) for pointer, message in problem.violations]
    return handler.Response(
        problem.status,
        [],
        handler.Body_Problem(wit.Problem(problem.title, problem.detail, violations)),
    )


class _Resources:
    """The plugin's resources by name, each instantiated on its first request."""

    def __init__(self, classes: Sequence[type[Resource]]) -> None:
        self._classes = {cls.name: cls for cls in classes}
        self._instances: dict[str, Resource] = {}

    def handle(self, request: wit.Request) -> handler.Response:
        try:
            return _to_wit(self._dispatch(Request(request)))
        except Problem as problem:
            return _problem(problem)
        except rc.Code as code:
            trace = traceback.format_exc()
            # The codes are shared instances: drop what raising attached to this one.
            code.__traceback__ = code.__context__ = code.__cause__ = None
            if code.is_success():
                raise Err(
                    wit.GuestError(
                        message=f"handler raised success code {code.status} as an error",
                        trace=trace,
                    )
                ) from None
            return _problem(code.problem())
        except Err as error:
            if isinstance(error.value, wit.GuestError):
                raise
            raise Err(_guest_error(error)) from None
        except Exception as error:  # noqa: BLE001 - any exception is the plugin's failure
            raise Err(_guest_error(error)) from None

    def _dispatch(self, request: Request) -> Any:
        name = request.resource
        instance = self._instances.get(name)
        if instance is None:
            cls = self._classes.get(name)
            if cls is None:
                raise Err(
                    wit.GuestError(
                        message=f"this plugin has no resource named `{name}`", trace=None
                    )
                )
            instance = self._instances[name] = cls()
        verb = getattr(instance, VERBS[request.method], None)
        if not callable(verb):
            raise rc.NOT_IMPLEMENTED.detail(
                f"resource `{name}` does not implement {request.method.value}"
            )
        return verb(request, **request.params)


def plugin(
    *,
    name: str,
    version: str,
    description: str = "",
    resources: Sequence[type[Resource]],
) -> type[exports.Handler]:
    """The `Handler` class componentize-py exports, serving `resources`.

    `name` (lower-case letters, digits and `-`) namespaces the plugin's stored data and
    its `[plugins.NAME]` section in `piston.toml`: keep it stable across versions. The
    resources' specs are checked here, when the module is imported (at build time), and
    a `SpecError` names any attribute the host would refuse.
    """
    check_name(name, "plugin name")
    if not isinstance(version, str) or not version:
        raise SpecError(f"plugin version: must be a non-empty string, not {version!r}")
    if not isinstance(description, str):
        raise SpecError(f"plugin description: must be a string, not {description!r}")
    if isinstance(resources, (str, bytes)) or not isinstance(resources, Sequence) or not resources:
        raise SpecError("plugin resources: must be a non-empty list of Resource classes")

    specs = [spec_of(cls) for cls in resources]
    seen: dict[str, str] = {}
    for cls, spec in zip(resources, specs):
        if spec.name in seen:
            raise SpecError(
                f"{cls.__qualname__}.name: {spec.name!r} is already the name of {seen[spec.name]}"
            )
        seen[spec.name] = cls.__qualname__
    info = wit.PluginInfo(name=name, version=version, description=description, resources=specs)
    table = _Resources(resources)

    class Handler(exports.Handler):
        """The plugin's `handler` export."""

        def describe(self) -> wit.PluginInfo:
            return info

        def handle(self, request: wit.Request) -> handler.Response:
            return table.handle(request)

    return Handler
