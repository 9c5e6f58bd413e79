#!/usr/bin/env sh
# Demo certificates for examples/tls.yaml, made once and committed: a CA,
# server certificates for `localhost` and `*.example.test`, and a client
# certificate for mTLS. ECDSA P-256, valid ten years. Everyone has these
# keys: never use them outside a demo. Run again to replace them.
set -eu
cd "$(dirname "$0")"
DAYS=3650
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -days "$DAYS" -subj "/CN=tollgate demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

# issue NAME SUBJECT EXTENSIONS
issue() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$work/$1.csr"
  printf '%s\n' "$3" > "$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey "$work/ca.key" -CAcreateserial \
    -CAserial "$work/ca.srl" -days "$DAYS" -extfile "$work/$1.ext" -out "$1.pem"
}

issue localhost "/CN=localhost" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue example-test "/CN=example.test" \
  "subjectAltName=DNS:example.test,DNS:*.example.test
extendedKeyUsage=serverAuth"
issue client "/O=tollgate demo/CN=demo-client" \
  "subjectAltName=URI:spiffe://demo/client
extendedKeyUsage=clientAuth"
