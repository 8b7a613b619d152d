#!/bin/sh
# Registers Madoguchi's Temporal namespace and custom search attributes.
# Idempotent: creates only what is missing, so it is safe to run on every
# deploy. Runs in the temporalio/admin-tools image (Kubernetes Job and the
# compose `temporal-setup` service share this file).
#
# Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_RETENTION
# (closed-workflow retention, e.g. 720h). The temporal CLI reads
# TEMPORAL_ADDRESS itself, and the client certificate of the frontend's
# mutual TLS from TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA and
# TEMPORAL_TLS_SERVER_NAME.
set -eu

ns="${TEMPORAL_NAMESPACE:?TEMPORAL_NAMESPACE is required}"
retention="${TEMPORAL_RETENTION:-720h}"

# name:type, as registered by workflows/request (search.go).
ATTRIBUTES="
DsrReceipt:Keyword
DsrKind:Keyword
DsrJurisdiction:Keyword
DsrStage:Keyword
DsrNeedsAttention:Bool
DsrDueAt:Datetime
DsrFeeState:Keyword
DsrAttention:KeywordList
DsrSubjectRef:Keyword
"

retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    if [ "$n" -ge 30 ]; then
      echo "giving up after $n attempts: $*" >&2
      return 1
    fi
    sleep 5
  done
}

echo "waiting for Temporal at ${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
retry temporal operator cluster health

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns: exists"
else
  retry temporal operator namespace create --namespace "$ns" --retention "$retention"
  echo "namespace $ns: created (retention $retention)"
fi

# A new namespace takes a few seconds to reach every frontend: retry the list.
existing=""
list() { existing="$(temporal operator search-attribute list --namespace "$ns")"; }
retry list

for entry in $ATTRIBUTES; do
  name="${entry%%:*}"
  type="${entry#*:}"
  if printf '%s\n' "$existing" | grep -qw -- "$name"; then
    echo "search attribute $name: exists"
  else
    retry temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type"
    echo "search attribute $name ($type): created"
  fi
done
echo "Temporal namespace $ns is ready"
