#!/usr/bin/env python3
"""Keys and tokens for bench/policies.sh (test-only keys, never used anywhere else).

python3 make_tokens.py TOKENS_DIR
Makes, once (kept while present):
  keys/rs256.key.pem, keys/rs256.pub.pem   RSA 2048
  keys/es256.key.pem, keys/es256.pub.pem   EC P-256
  TOKENS_DIR/rs256.txt, es256.txt          one token each, reused by every request
  TOKENS_DIR/rs256-many.txt                50,000 distinct RS256 tokens (unique jti),
                                           more than the jwt policy's verified-token
                                           cache holds (10,000), so each is verified anew
Claims: iss https://bench.example, aud bench, sub bench-user, exp in 2100.
Needs python3-cryptography (apt-get install -y python3-cryptography).
"""
import base64
import json
import os
import sys

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    sys.exit("missing python3-cryptography: apt-get install -y python3-cryptography")

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
MANY = 50_000


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_or_make(name, make):
    path = os.path.join(KEYS, f"{name}.key.pem")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    key = make()
    os.makedirs(KEYS, exist_ok=True)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(KEYS, f"{name}.pub.pem"), "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def token(key, alg, jti):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iss": "https://bench.example", "aud": "bench", "sub": "bench-user",
              "exp": 4102444800, "iat": 1764720000, "jti": jti}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    if alg == "RS256":
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{head}.{body}.{b64(sig)}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "tokens")
    rsa_key = load_or_make("rs256", lambda: rsa.generate_private_key(65537, 2048))
    ec_key = load_or_make("es256", lambda: ec.generate_private_key(ec.SECP256R1()))
    os.makedirs(out, exist_ok=True)
    for name, key, alg in (("rs256", rsa_key, "RS256"), ("es256", ec_key, "ES256")):
        path = os.path.join(out, f"{name}.txt")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(token(key, alg, "reused") + "\n")
    many = os.path.join(out, "rs256-many.txt")
    if not os.path.exists(many):
        print(f"signing {MANY} RS256 tokens (once)...", file=sys.stderr)
        with open(many + ".tmp", "w") as f:
            for i in range(MANY):
                f.write(token(rsa_key, "RS256", f"t{i}") + "\n")
        os.replace(many + ".tmp", many)


main()
