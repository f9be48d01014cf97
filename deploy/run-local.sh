#!/usr/bin/env bash
# Physio Finder as deployed, on this machine: nginx (deploy/nginx/finder.conf)
# in front of gunicorn (gunicorn.conf.py), both on loopback ports.
#
#   deploy/run-local.sh            # prints http://127.0.0.1:8080 when ready; Ctrl+C stops both
#
# From a fresh clone it makes .venv and installs the package, and when the
# instance has no search index yet it runs `finder demo --no-serve` (FICTIONAL
# sample data, offline). Runs in the foreground; SIGTERM or Ctrl+C stops nginx
# and gunicorn. Nothing needs root: nginx gets its own prefix, pid file, temp
# directories and logs under a fresh run directory.
#
# Environment:
#   FINDER_PORT      nginx port (default 8080; 0: any free port)
#   FINDER_APP_PORT  gunicorn port on 127.0.0.1 (default: any free port)
#   FINDER_RUN_DIR   where nginx's files and both logs go (default: a new temp directory, removed on stop)
#   NGINX            the nginx binary (default /usr/sbin/nginx)
#   FINDER_PUBLIC_URL (default http://127.0.0.1:PORT), FINDER_WORKERS, FINDER_THREADS,
#   FINDER_WORKER_CLASS, FINDER_INSTANCE_PATH, FINDER_DATABASE_URL, ... as for gunicorn.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NGINX=${NGINX:-/usr/sbin/nginx}
if [[ ! -x $NGINX ]]; then
    echo "run-local: nginx not found at $NGINX (apt-get install nginx, or set NGINX=/path/to/nginx)" >&2
    exit 2
fi

if [[ -n ${VIRTUAL_ENV:-} && -x $VIRTUAL_ENV/bin/gunicorn ]]; then
    BIN=$VIRTUAL_ENV/bin
else
    BIN=$ROOT/.venv/bin
    if [[ ! -x $BIN/gunicorn ]]; then
        echo "run-local: setting up .venv (once) ..." >&2
        python3 -m venv "$ROOT/.venv"
        "$BIN/pip" install -q -e "$ROOT"
    fi
fi

free_port() {
    "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
PORT=${FINDER_PORT:-8080}
[[ $PORT == 0 ]] && PORT=$(free_port)
APP_PORT=${FINDER_APP_PORT:-$(free_port)}

if [[ -n ${FINDER_RUN_DIR:-} ]]; then
    RUN_DIR=$FINDER_RUN_DIR
    KEEP_RUN_DIR=1
    mkdir -p "$RUN_DIR"
else
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/finder-run.XXXXXX")
    KEEP_RUN_DIR=0
fi
chmod 755 "$RUN_DIR"  # nginx's workers (nobody when started as root) read and write their temp directories here
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/temp"

export FINDER_BIND=127.0.0.1:$APP_PORT
export FINDER_PROXY_FIX_X_FOR=${FINDER_PROXY_FIX_X_FOR:-1}
export FINDER_PUBLIC_URL=${FINDER_PUBLIC_URL:-http://127.0.0.1:$PORT}
export FINDER_TRUSTED_HOSTS=${FINDER_TRUSTED_HOSTS:-127.0.0.1,localhost}
export FINDER_COMPRESS_REGISTER=${FINDER_COMPRESS_REGISTER:-false}  # nginx compresses

# A fresh clone: sample data, gazetteer and index (skipped once the index exists).
if ! "$BIN/finder" index status >/dev/null 2>&1; then
    echo "run-local: no search index yet: preparing the FICTIONAL demo data (finder demo --no-serve) ..." >&2
    "$BIN/finder" demo --no-serve >&2
fi

# The site file with its run-local lines pointed at this run, inside a minimal main config.
sed -e "s|^\(\s*\)listen .*# run-local: listen|\1listen 127.0.0.1:$PORT;|" \
    -e "s|^\(\s*\)server .*# run-local: upstream|\1server 127.0.0.1:$APP_PORT;|" \
    -e "s|^\(\s*\)alias .*# run-local: static|\1alias $ROOT/templates/static/;|" \
    -e "s|^\(\s*\)access_log .*# run-local: access_log|\1access_log $RUN_DIR/logs/access.log finder_private;|" \
    -e "s|^\(\s*\)error_log .*# run-local: error_log|\1error_log $RUN_DIR/logs/error.log crit;|" \
    "$ROOT/deploy/nginx/finder.conf" > "$RUN_DIR/finder-site.conf"
cat > "$RUN_DIR/nginx.conf" <<CONF
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/logs/error.log crit;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path $RUN_DIR/temp/body;
    proxy_temp_path $RUN_DIR/temp/proxy;
    fastcgi_temp_path $RUN_DIR/temp/fastcgi;
    uwsgi_temp_path $RUN_DIR/temp/uwsgi;
    scgi_temp_path $RUN_DIR/temp/scgi;
    include $RUN_DIR/finder-site.conf;
}
CONF

GUNICORN_PID=
NGINX_PID=
stop() {
    trap - TERM INT EXIT
    [[ -n $NGINX_PID ]] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
    [[ -n $GUNICORN_PID ]] && kill -TERM "$GUNICORN_PID" 2>/dev/null || true
    [[ -n $NGINX_PID ]] && wait "$NGINX_PID" 2>/dev/null || true
    [[ -n $GUNICORN_PID ]] && wait "$GUNICORN_PID" 2>/dev/null || true
    if [[ $KEEP_RUN_DIR == 0 ]]; then rm -rf "$RUN_DIR"; fi
    echo "run-local: stopped" >&2
}
trap 'stop; exit 0' TERM INT
trap 'stop' EXIT

"$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/error.log"
"$BIN/gunicorn" -c "$ROOT/gunicorn.conf.py" 'finder:create_app()' 2>>"$RUN_DIR/logs/app.log" &
GUNICORN_PID=$!
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/error.log" -g 'daemon off;' &
NGINX_PID=$!

URL=http://127.0.0.1:$PORT
READY=0
for _ in $(seq 600); do
    if ! kill -0 "$GUNICORN_PID" 2>/dev/null || ! kill -0 "$NGINX_PID" 2>/dev/null; then
        echo "run-local: a server stopped while starting; logs in $RUN_DIR/logs:" >&2
        tail -n 20 "$RUN_DIR/logs/app.log" "$RUN_DIR/logs/error.log" >&2 || true
        exit 1
    fi
    if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$URL/readyz" 2>/dev/null; then
        echo "Physio Finder is running at $URL (nginx; gunicorn on 127.0.0.1:$APP_PORT; logs in $RUN_DIR/logs). Press Ctrl+C to stop."
        READY=1
        break
    fi
    sleep 0.2
done
if [[ $READY == 0 ]]; then
    echo "run-local: $URL/readyz did not answer 200 within two minutes; logs in $RUN_DIR/logs:" >&2
    tail -n 20 "$RUN_DIR/logs/app.log" "$RUN_DIR/logs/error.log" >&2 || true
    exit 1
fi

# Foreground until either server exits or we are told to stop.
wait -n "$GUNICORN_PID" "$NGINX_PID" || true
echo "run-local: a server exited; stopping the other" >&2
exit 1
