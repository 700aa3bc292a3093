"""Real HTTP clients for the authentication tests.

Usage: auth_client.py SCHEME METHOD URL [ARGS...]

  basic  METHOD URL USER PASSWORD [JSON-BODY]   requests with HTTPBasicAuth
  digest METHOD URL USER PASSWORD [JSON-BODY]   requests with HTTPDigestAuth

Prints one JSON object: the final status, headers and body, and the statuses of the
responses before it (a Digest client first meets a 401 challenge).
"""

import json
import sys

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth


def report(response):
    print(json.dumps({
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": response.text,
        "history": [earlier.status_code for earlier in response.history],
    }))


def send(method, url, auth, body=None, session=None):
    kwargs = {"auth": auth, "timeout": 30}
    if body is not None:
        kwargs["data"] = body
        kwargs["headers"] = {"Content-Type": "application/json"}
    return (session or requests).request(method, url, **kwargs)


def main(argv):
    scheme, method, url = argv[:3]
    rest = argv[3:]
    if scheme == "basic":
        user, password = rest[:2]
        report(send(method, url, HTTPBasicAuth(user, password), *rest[2:3]))
    elif scheme == "digest":
        user, password = rest[:2]
        report(send(method, url, HTTPDigestAuth(user, password), *rest[2:3]))
    else:
        sys.exit(f"unknown scheme {scheme}")


if __name__ == "__main__":
    main(sys.argv[1:])
