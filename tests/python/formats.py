"""Reads and writes the formats Piston speaks with Python's own libraries.

The integration tests use it to check both directions: what Piston emits, Python reads
back as the same data; what Python writes, Piston reads.

    python formats.py decode FORMAT < body > data.json
    python formats.py encode FORMAT < data.json > body

FORMAT is json, jsonl, yaml, xml, pickle, msgpack or msgpack-stream (several values one
after another); `encode` also knows form and multipart. XML carries text, so decoding it
gives strings, as Piston does.
"""

import base64
import io
import json
import pickle
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import msgpack
import yaml


def local(tag):
    """A tag without its namespace (problem documents use RFC 9457's)."""
    return tag.split("}", 1)[-1]


def from_xml(element):
    """An element as Piston reads it."""
    if element.get("nil") == "true":
        return None
    children = list(element)
    if not children:
        text = element.text or ""
        if element.get("encoding") == "base64":
            return base64.b64decode(text).decode("utf-8")
        return text
    if all(local(child.tag) == "resource" and child.get("key") is None for child in children):
        return [from_xml(child) for child in children]
    members = {}
    repeated = set()
    for child in children:
        key = local(child.tag)
        if key == "item" and child.get("key") is not None:
            key = child.get("key")
        if key == "item" and child.get("key-base64") is not None:
            key = base64.b64decode(child.get("key-base64")).decode("utf-8")
        value = from_xml(child)
        if key in members:
            if key not in repeated:
                members[key] = [members[key]]
                repeated.add(key)
            members[key].append(value)
        else:
            members[key] = value
    return members


def to_xml(value, tag):
    """Data as Piston reads XML: objects as elements, lists as <resource> items."""
    element = ET.Element(tag)
    if value is None:
        element.set("nil", "true")
    elif isinstance(value, dict):
        for key, member in value.items():
            child = to_xml(member, key if key.isidentifier() else "item")
            if not key.isidentifier():
                child.set("key", key)
            element.append(child)
    elif isinstance(value, list):
        for item in value:
            element.append(to_xml(item, "resource"))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
    return element


def decode(fmt, body):
    if fmt == "json":
        return json.loads(body)
    if fmt == "jsonl":
        return [json.loads(line) for line in body.decode("utf-8").splitlines() if line]
    if fmt == "yaml":
        return yaml.safe_load(body)
    if fmt == "xml":
        return from_xml(ET.fromstring(body))
    if fmt == "pickle":
        return pickle.loads(body)
    if fmt == "msgpack":
        return msgpack.unpackb(body, raw=False)
    if fmt == "msgpack-stream":
        return list(msgpack.Unpacker(io.BytesIO(body), raw=False))
    raise SystemExit(f"unknown format {fmt}")


def multipart(value):
    """A multipart/form-data body: text fields, and one file."""
    boundary = "piston-test-boundary"
    parts = []
    for key, field in value.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{field}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="notes.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + b"file \x00 content\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def encode(fmt, value):
    if fmt == "json":
        return json.dumps(value).encode()
    if fmt == "yaml":
        return yaml.safe_dump(value, allow_unicode=True).encode()
    if fmt == "xml":
        return ET.tostring(to_xml(value, "request"), encoding="utf-8", xml_declaration=True)
    if fmt == "pickle":
        return pickle.dumps(value)
    if fmt == "msgpack":
        return msgpack.packb(value)
    if fmt == "form":
        return urllib.parse.urlencode(value, doseq=True).encode()
    if fmt == "multipart":
        body, content_type = multipart(value)
        sys.stderr.write(content_type)
        return body
    raise SystemExit(f"unknown format {fmt}")


def main():
    action, fmt = sys.argv[1], sys.argv[2]
    body = sys.stdin.buffer.read()
    if action == "decode":
        sys.stdout.write(json.dumps(decode(fmt, body)))
    elif action == "encode":
        sys.stdout.buffer.write(encode(fmt, json.loads(body)))
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main()
