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
  hmac-sha256 SECRET MESSAGE
                      prints the HMAC-SHA256 of MESSAGE, base64url without padding
  jwt-make ALG KEY CLAIMS [KID]
                      prints a token made by PyJWT; KEY is the secret (HS*) or a private
                      key file; CLAIMS is JSON, where `exp_in` and `nbf_in` become `exp`
                      and `nbf` that many seconds from now

The request commands print one JSON object: the final status, headers and body, and the statuses of the
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


def main(argv):
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
