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

  jwt-keys DIR        writes RSA and P-256 key pairs made with `cryptography` (rsa.pem,
                      rsa.pub.pem, ec.pem, ec.pub.pem, other-rsa.pem) and a JWK set of
                      the two public keys (jwks.json: kids rsa-1, ec-1)
  oauth-flow BASE KEY SECRET USER PASSWORD CALLBACK
      the three-legged OAuth 1.0a flow with requests-oauthlib, the user's side done by
      a requests session reading the authorization page (with a wrong password, and a
      forged post without the CSRF cookie, on the way); prints the access token, its
      secret and what each step answered. BASE may be several base URLs separated by
      commas (hosts sharing a store): the steps go to each in turn
  oauth-call METHOD URL KEY SECRET TOKEN TOKEN-SECRET SIGNATURE-METHOD [BODY]
      one signed request; BODY is JSON, or `form:` and a form-encoded body (signed)
  oauth-replay METHOD URL KEY SECRET TOKEN TOKEN-SECRET [OTHER-BASE]
      signs one request with oauthlib and sends it twice; prints both answers. With
      OTHER-BASE, the second goes there (another host behind the same name: the
      Host header stays URL's, so the signature is still valid)
  oauth-stale METHOD URL KEY SECRET TOKEN TOKEN-SECRET SECONDS-AGO
      a request signed with a timestamp that many seconds in the past
  hmac-sha256 SECRET MESSAGE
                      prints the HMAC-SHA256 of MESSAGE, base64url without padding
  jwt-make ALG KEY CLAIMS [KID]
                      prints a token made by PyJWT; KEY is the secret (HS*) or a private
                      key file; CLAIMS is JSON, where `exp_in` and `nbf_in` become `exp`
                      and `nbf` that many seconds from now

The request commands print one JSON object: the final status, headers and body, and the statuses of the
responses before it (a Digest client first meets a 401 challenge).
"""

import itertools
import json
import sys
import time
import urllib.parse

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


def jwt_keys(directory):
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    def write(name, key):
        with open(os.path.join(directory, name + ".pem"), "wb") as out:
            out.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ))
        with open(os.path.join(directory, name + ".pub.pem"), "wb") as out:
            out.write(key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            ))

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    write("rsa", rsa_key)
    write("ec", ec_key)
    write("other-rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    keys = []
    for kid, alg, algorithm, key in [
        ("rsa-1", "RS256", RSAAlgorithm, rsa_key),
        ("ec-1", "ES256", ECAlgorithm, ec_key),
    ]:
        jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        keys.append(jwk)
    with open(os.path.join(directory, "jwks.json"), "w") as out:
        json.dump({"keys": keys}, out)


def jwt_make(algorithm, key, claims, kid=None):
    import jwt

    claims = json.loads(claims)
    now = int(time.time())
    for relative, claim in [("exp_in", "exp"), ("nbf_in", "nbf")]:
        if relative in claims:
            claims[claim] = now + claims.pop(relative)
    if not algorithm.startswith("HS"):
        with open(key, "rb") as source:
            key = source.read()
    headers = {"kid": kid} if kid else None
    print(jwt.encode(claims, key, algorithm=algorithm, headers=headers))


def hmac_sha256(secret, message):
    import base64
    import hashlib
    import hmac

    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    print(base64.urlsafe_b64encode(mac).rstrip(b"=").decode())


SIGNATURE_METHODS = {
    "HMAC-SHA1": "HMAC-SHA1",
    "HMAC-SHA256": "HMAC-SHA256",
    "PLAINTEXT": "PLAINTEXT",
}


def oauth_flow(base, key, secret, user, password, callback):
    import re

    from requests_oauthlib import OAuth1Session

    bases = base.split(",")
    turns = itertools.count()

    def at(path):
        return bases[next(turns) % len(bases)] + path

    steps = {}
    session = OAuth1Session(key, client_secret=secret, callback_uri=callback)
    temporary = session.fetch_request_token(at("/oauth/request_token"))
    steps["callback_confirmed"] = temporary.get("oauth_callback_confirmed")
    authorize_url = session.authorization_url(at("/oauth/authorize"))

    browser = requests.Session()
    page = browser.get(authorize_url, timeout=30)
    steps["page"] = answer(page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    token = re.search(r'name="oauth_token" value="([^"]+)"', page.text).group(1)
    form = {"oauth_token": token, "csrf_token": csrf, "username": user,
            "password": password, "decision": "allow"}

    def url():
        return at("/oauth/authorize")

    steps["wrong_password"] = answer(browser.post(
        url(), data=dict(form, password=password + "?"), allow_redirects=False, timeout=30))
    steps["forged"] = answer(requests.post(url(), data=form, allow_redirects=False, timeout=30))
    approved = browser.post(url(), data=form, allow_redirects=False, timeout=30)
    steps["approved"] = answer(approved)
    if callback == "oob":
        verifier = re.search(r'id="verifier">([^<]+)<', approved.text).group(1)
        session._client.client.verifier = verifier
    else:
        session.parse_authorization_response(approved.headers["location"])
    verifier = session._client.client.verifier
    access = session.fetch_access_token(at("/oauth/access_token"))
    steps["again"] = answer(browser.post(url(), data=form, allow_redirects=False, timeout=30))
    try:
        session._client.client.verifier = verifier
        session.fetch_access_token(at("/oauth/access_token"))
        steps["exchanged_twice"] = True
    except Exception as error:  # the server refuses: requests-oauthlib raises
        steps["exchanged_twice"] = str(error)
    print(json.dumps({
        "token": access["oauth_token"],
        "secret": access["oauth_token_secret"],
        "steps": steps,
    }))


def oauth_call(method, url, key, secret, token, token_secret, signature_method, body=None):
    from requests_oauthlib import OAuth1

    auth = OAuth1(key, client_secret=secret, resource_owner_key=token,
                  resource_owner_secret=token_secret,
                  signature_method=SIGNATURE_METHODS[signature_method])
    kwargs = {"auth": auth, "timeout": 30}
    if body is not None and body.startswith("form:"):
        kwargs["data"] = body[len("form:"):]
        kwargs["headers"] = {"Content-Type": "application/x-www-form-urlencoded"}
    elif body is not None:
        kwargs["data"] = body
        kwargs["headers"] = {"Content-Type": "application/json"}
    report(requests.request(method, url, **kwargs))


def oauth_signed(method, url, key, secret, token, token_secret, **client_options):
    from oauthlib.oauth1 import Client

    client = Client(key, client_secret=secret, resource_owner_key=token,
                    resource_owner_secret=token_secret, **client_options)
    uri, headers, _ = client.sign(url, http_method=method)
    return uri, headers


def main(argv):
    if argv[0] == "oauth-flow":
        return oauth_flow(*argv[1:])
    if argv[0] == "oauth-call":
        return oauth_call(*argv[1:])
    if argv[0] == "oauth-replay":
        method, url = argv[1:3]
        uri, headers = oauth_signed(method, url, *argv[3:7])
        first = requests.request(method, uri, headers=headers, timeout=30)
        again = uri
        if len(argv) > 7:
            parts = urllib.parse.urlsplit(uri)
            headers = dict(headers, Host=parts.netloc)
            again = argv[7].rstrip("/") + urllib.parse.urlunsplit(("", "", *parts[2:]))
        second = requests.request(method, again, headers=headers, timeout=30)
        return print(json.dumps([answer(first), answer(second)]))
    if argv[0] == "oauth-stale":
        method, url = argv[1:3]
        timestamp = str(int(time.time()) - int(argv[7]))
        uri, headers = oauth_signed(method, url, *argv[3:7], timestamp=timestamp)
        return report(requests.request(method, uri, headers=headers, timeout=30))
    if argv[0] == "hmac-sha256":
        return hmac_sha256(*argv[1:])
    if argv[0] == "jwt-keys":
        return jwt_keys(argv[1])
    if argv[0] == "jwt-make":
        return jwt_make(*argv[1:])
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
