#!/bin/sh
# Registers the compose demo's two databases with Backline on first start; safe to run again
# (a database already registered is left alone). Runs in the `demo-init` service.
set -eu

API="${BACKLINE_API:-http://api:8080}"
TOKEN="${BACKLINE_ADMIN_TOKEN:?set BACKLINE_ADMIN_TOKEN}"
AUTH="Authorization: Bearer $TOKEN"

i=0
until curl -fsS "$API/healthz" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "Backline did not answer at $API" >&2; exit 1; }
  sleep 1
done

# An S3 bucket for the `s3` profile (moto accepts an unsigned bucket creation).
if [ -n "${DEMO_S3_BUCKET_URL:-}" ]; then
  curl -fsS -X PUT "$DEMO_S3_BUCKET_URL" >/dev/null && echo "bucket $DEMO_S3_BUCKET_URL is ready"
fi

register() {
  name=$1 engine=$2 connection=$3
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$API/api/v1/databases/$name")
  if [ "$code" = 200 ]; then
    echo "$name is already registered"
    return 0
  fi
  curl -fsS -X POST "$API/api/v1/databases" -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$name\",\"engine\":\"$engine\",\"connection\":\"$connection\"}" >/dev/null
  echo "registered $name ($engine)"
}

register shop postgres "postgres://shop:${SHOP_PASSWORD:?}@postgres:5432/shop"
register crm mysql "mysql://crm:${CRM_PASSWORD:?}@mysql:3306/crm"
