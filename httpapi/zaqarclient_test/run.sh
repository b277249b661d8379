#!/bin/sh
# Runs python-zaqarclient's functional tests against heraldd on a temp bolt
# file on loopback, then stops the server. heraldd runs pooled (--pools)
# with the admin routes, and opens the tests' mongodb:// pools as memory
# stores. Needs the Debian packages
# python3-zaqarclient and python3-pytest. Extra arguments go to pytest.
# Run from anywhere: sh httpapi/zaqarclient_test/run.sh [-k pattern]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

(cd "$root" && go build -o "$tmp/heraldd" ./cmd/heraldd)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HERALD_SIGNED_URL_KEY=functional-test-key "$tmp/heraldd" --listen "127.0.0.1:$port" \
	--data "$tmp/heraldd.db" --admin --pools --memory-pool-schemes mongodb --access-log=false 2>"$tmp/heraldd.log" &
pid=$!
i=0
until /usr/bin/python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null \
	|| /usr/bin/python3 -c "import urllib.request,urllib.error,sys
try: urllib.request.urlopen('http://127.0.0.1:$port/')
except urllib.error.HTTPError: sys.exit(0)
sys.exit(1)" 2>/dev/null; do
	i=$((i+1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then cat "$tmp/heraldd.log"; exit 1; fi
	sleep 0.1
done

cd "$here"
ZAQARCLIENT_TEST_FUNCTIONAL=1 ZAQAR_ENDPOINT="http://127.0.0.1:$port" \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning test_zaqarclient.py "$@"
