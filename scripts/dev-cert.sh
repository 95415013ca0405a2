#!/usr/bin/env bash
# A throwaway CA and a server certificate it signed, for trying `aiops serve --tls-cert`
# on a laptop and for the tests (in a cluster, use cert-manager or your own CA):
#   scripts/dev-cert.sh DIR [NAME]
# writes DIR/NAME-ca.pem (trust this), DIR/NAME.pem and DIR/NAME.key (PKCS#8) for
# localhost and 127.0.0.1, valid for 2 days.
set -euo pipefail
dir=${1:?usage: scripts/dev-cert.sh DIR [NAME]}
name=${2:-aiops}
cd "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out "$name-ca.key"
openssl req -x509 -new -key "$name-ca.key" -out "$name-ca.pem" -days 2 -subj "/CN=$name-ca" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$name.key"
openssl req -new -key "$name.key" -out "$name.csr" -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$name.ext"
openssl x509 -req -in "$name.csr" -CA "$name-ca.pem" -CAkey "$name-ca.key" -CAcreateserial \
  -out "$name.pem" -days 2 -extfile "$name.ext" 2>/dev/null
rm -f "$name.csr" "$name.ext" "$name-ca.srl"
