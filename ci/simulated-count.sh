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

# And how many ran on the production CUDA path: JCudaGpu and JCuda's JNI on the driver shim (the Surefire execution
# driver-shim, src/test/native/sim/README.md).
shim=$(cat target/surefire-reports-shim/TEST-*.xml 2>/dev/null | grep -c '<testcase ' || true)
echo "tests through JCuda on the driver shim: $shim"
