#!/usr/bin/env bash
# After `mvn -B test`: how many tests ran kernels on the host simulator (the simulator's own tests, and every
# test whose device was the CUDA device on the simulator), from the Surefire reports.
set -euo pipefail
cd "$(dirname "$0")/.."

reports=target/surefire-reports
own=$(cat "$reports"/TEST-dev.kullback.cuda.Sim*.xml | grep -c '<testcase ' || true)
device=$(cat "$reports"/TEST-*.xml | grep '<testcase ' | grep -v 'classname="dev.kullback.cuda.Sim' \
  | grep -c 'SIMT simulator' || true)
echo "simulated kernel tests: $((own + device)) ($own in the simulator's own classes, $device on the simulated CUDA device)"
