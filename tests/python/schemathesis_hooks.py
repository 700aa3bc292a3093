"""Schemathesis hooks for the docs tests (loaded through SCHEMATHESIS_HOOKS): request
bodies are fuzzed in every format whose writer in Schemathesis means what Piston
reads, and in no other.

- XML carries only text: Piston reads every XML value as a string (`nil="true"` as
  null) and an empty element as an empty string, while Schemathesis writes numbers,
  booleans and null as text and `{}` as an empty element; a body it calls valid or
  invalid reaches the server as something else.
- Multipart: Schemathesis writes any property name into a part's header as it is,
  control characters included, which makes a body no multipart parser reads.
- Plain text goes too: Schemathesis would otherwise send a textual body it has no
  writer for (`text/xml`) as text.

The formats it cannot write at all (msgpack, pickle) are skipped by Schemathesis
itself. Each of these decoders is tested on its own.
"""

from schemathesis.transport.requests import REQUESTS_TRANSPORT

REQUESTS_TRANSPORT.unregister_serializer(
    "application/xml", "text/xml", "multipart/form-data", "text/plain"
)
