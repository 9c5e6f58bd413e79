#!/usr/bin/env python3
"""Tokens for the JWT benchmarks, signed with the test-only keys in keys/.

    python3 bench/policies/make_tokens.py [N]      # N defaults to 200000

writes bench/policies/tokens/:
  rs256.jwt, es256.jwt   one reusable token per algorithm (as real clients reuse one)
  rs256-many.jwt         N distinct RS256 tokens, one per line (the "every token new" case)

Every token has iss "bench", sub "bench", a unique jti and exp far in the future (2100).
Needs python3-cryptography (apt-get install python3-cryptography); no tollgate involved.
"""

import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
EXP = 4102444800  # 2100-01-01


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(obj) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def load(name):
    with open(os.path.join(HERE, "keys", name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign_rs256(key, jti: str) -> str:
    head = part({"alg": "RS256", "typ": "JWT"}) + "." + part(claims(jti))
    sig = key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256())
    return head + "." + b64(sig)


def sign_es256(key, jti: str) -> str:
    head = part({"alg": "ES256", "typ": "JWT"}) + "." + part(claims(jti))
    r, s = decode_dss_signature(key.sign(head.encode(), ec.ECDSA(hashes.SHA256())))
    # JWS wants r || s, 32 bytes each (RFC 7518 §3.4), not DER.
    return head + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def claims(jti: str):
    return {"iss": "bench", "sub": "bench", "jti": jti, "exp": EXP}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    out = os.path.join(HERE, "tokens")
    os.makedirs(out, exist_ok=True)
    rsa_key, ec_key = load("rs256.key.pem"), load("es256.key.pem")
    with open(os.path.join(out, "rs256.jwt"), "w") as f:
        f.write(sign_rs256(rsa_key, "reused") + "\n")
    with open(os.path.join(out, "es256.jwt"), "w") as f:
        f.write(sign_es256(ec_key, "reused") + "\n")
    with open(os.path.join(out, "rs256-many.jwt"), "w") as f:
        for i in range(n):
            f.write(sign_rs256(rsa_key, f"t{i:07d}") + "\n")
    print(f"wrote {out}/rs256.jwt, es256.jwt and {n} tokens in rs256-many.jwt")


if __name__ == "__main__":
    main()
