"""Real HTTP clients for the authentication tests.

Usage: auth_client.py SCHEME METHOD URL [ARGS...]

  basic  METHOD URL USER PASSWORD [JSON-BODY]   requests with HTTPBasicAuth
  digest METHOD URL USER PASSWORD [JSON-BODY]   requests with HTTPDigestAuth
  digest-replay GET URL USER PASSWORD OTHER-URL
      authenticates with HTTPDigestAuth, then sends the same Authorization header
      again, and once more to OTHER-URL; prints the three answers as a list
  digest-stale GET URL USER PASSWORD SECONDS
      two requests in one session SECONDS apart (the second reuses the nonce);
      prints both answers as a list, the second with the 401 it met on the way

Prints one JSON object: the final status, headers and body, and the statuses of the
responses before it (a Digest client first meets a 401 challenge).
"""

import json
import sys
import time

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth


def answer(response):
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": response.text,
        "history": [answer(earlier) for earlier in response.history],
    }


def report(response):
    print(json.dumps(answer(response)))


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
    elif scheme == "digest-replay":
        user, password, other = rest[:3]
        first = send(method, url, HTTPDigestAuth(user, password))
        sent = {"Authorization": first.request.headers["Authorization"]}
        again = requests.request(method, url, headers=sent, timeout=30)
        elsewhere = requests.request(method, other, headers=sent, timeout=30)
        print(json.dumps([answer(first), answer(again), answer(elsewhere)]))
    elif scheme == "digest-stale":
        user, password, seconds = rest[:3]
        session = requests.Session()
        session.auth = HTTPDigestAuth(user, password)
        first = session.request(method, url, timeout=30)
        time.sleep(float(seconds))
        second = session.request(method, url, timeout=30)
        print(json.dumps([answer(first), answer(second)]))
    else:
        sys.exit(f"unknown scheme {scheme}")


if __name__ == "__main__":
    main(sys.argv[1:])
