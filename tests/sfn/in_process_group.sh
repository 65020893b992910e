#!/usr/bin/env bash
# Runs a command in a process group of its own and kills that whole group when
# the command ends, however it ends (failure, Ctrl-C, the test killed by a
# timeout): the moto server and the handler binaries the Step Functions
# differential test starts never outlive it, even when its own clean-up
# (Drop) cannot run.
#   tests/sfn/in_process_group.sh <command...>
# The command's exit status is the script's.
set -euo pipefail

set -m # job control: the background job below leads its own process group
"$@" &
group=$!
stop_group() { kill -TERM -- "-$group" 2>/dev/null || true; }
trap stop_group EXIT
trap 'exit 130' INT TERM

set +e
wait "$group"
status=$?
set -e
exit $status
