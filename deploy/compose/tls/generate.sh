#!/bin/sh
# Makes the private CA of the compose Temporal's mutual TLS and one
# certificate per service that talks to the frontend, in the directory each
# service mounts (compose.yaml): temporal/ (the server: frontend and
# internode, also its own worker's client certificate), temporal-ui/,
# temporal-setup/, intake/, bridge/, worker/, codec-server/ — each with
# tls.crt, tls.key and ca.crt. Needs openssl. Run it once before the first
# `docker compose up`, and again to renew the certificates (397 days; the
# CA, 10 years, is kept); then restart the stack.
#
# The CA's key stays in this directory, which is made readable by you
# alone; the containers (other users: Temporal's 1000, Madoguchi's 65532)
# read only their own mounted subdirectory.
set -eu
cd "$(dirname "$0")"
umask 077

if [ ! -f ca.key ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Madoguchi compose Temporal CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "created the CA (ca.crt, ca.key)"
fi

# issue DIR COMMON-NAME EXTENDED-KEY-USAGE [SUBJECT-ALT-NAMES]
issue() {
  dir=$1 cn=$2 eku=$3 san=${4:-}
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } > "$ext"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$dir/tls.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days 397 -extfile "$ext" -out "$dir/tls.crt" 2>/dev/null
  rm -f "$dir/tls.csr" "$ext"
  cp ca.crt "$dir/ca.crt"
  chmod 755 "$dir"
  chmod 644 "$dir/tls.crt" "$dir/tls.key" "$dir/ca.crt"
  echo "issued $dir/tls.crt for $cn"
}

# The server presents one certificate as frontend and internode server and
# as the client of its own frontend (its worker service).
issue temporal temporal serverAuth,clientAuth "DNS:temporal,DNS:localhost,IP:127.0.0.1"
for svc in temporal-ui temporal-setup intake bridge worker codec-server; do
  issue "$svc" "madoguchi-$svc" clientAuth
done
chmod 700 .
