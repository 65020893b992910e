#!/usr/bin/env bash
# Runs a command against an AWS-compatible endpoint:
#   tests/aws/with_endpoint.sh <venv> <command...>
#
# - AWS_ENDPOINT_URL already set (LocalStack: http://localhost:4566): use it;
#   dummy credentials and us-east-1 unless credentials/region are set.
# - CCX_TEST_AWS_REAL_ACCOUNT=1 and no AWS_ENDPOINT_URL: the real account of the
#   ambient credentials and region, as they are.
# - Otherwise (the default, and what `make test` does): start moto's server
#   (tests/aws/moto_server.py) from <venv> on a free 127.0.0.1 port, wait
#   until it answers, run the command
#   with AWS_ENDPOINT_URL pointing at it (dummy credentials, us-east-1), and stop
#   the server however the command ends.
# The command's exit status is the script's.
set -euo pipefail

venv=$1
shift

if [[ -n ${AWS_ENDPOINT_URL:-} ]]; then
    echo "with_endpoint: using AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" >&2
    if [[ -z ${AWS_ACCESS_KEY_ID:-} && -z ${AWS_PROFILE:-} ]]; then
        export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    fi
    export AWS_REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
    exec "$@"
fi
if [[ ${CCX_TEST_AWS_REAL_ACCOUNT:-} == 1 ]]; then
    echo "with_endpoint: CCX_TEST_AWS_REAL_ACCOUNT=1: running against the real account" >&2
    exec "$@"
fi

# moto's server, with DynamoDB requests serialised (see moto_server.py).
here=$(cd "$(dirname "$0")" && pwd)
python="$venv/bin/python"
"$python" -c 'import moto.server' 2>/dev/null || { echo "with_endpoint: moto is not installed in $venv (run make venv)" >&2; exit 2; }

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

log=$(mktemp -t moto.XXXXXX.log)
server_pid=""
stop_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# A port found free can be taken before moto binds it: try a few.
for _ in 1 2 3 4 5; do
    port=$(free_port)
    "$python" "$here/moto_server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    server_pid=$!
    ready=""
    for _ in $(seq 1 100); do
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null; then ready=1; break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
        sleep 0.2
    done
    [[ -n $ready ]] && break
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
done
if [[ -z $server_pid ]]; then
    echo "with_endpoint: moto_server did not start; its log:" >&2
    cat "$log" >&2
    exit 1
fi
echo "with_endpoint: moto_server (pid $server_pid) on http://127.0.0.1:$port" >&2

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
set +e
"$@"
status=$?
set -e
exit $status
