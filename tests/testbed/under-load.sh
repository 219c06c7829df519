#!/bin/sh
# The netns testbed suites, several times in a row, each while two CPU-bound processes keep both
# cores of a 2-core machine busy (tests/lib/cpu-load.ts): their timing must hold on a loaded host.
# Usage: sh tests/testbed/under-load.sh [ROUNDS (default 3)] [BUSY PROCESSES (default 2)]
set -eu
cd "$(dirname "$0")/../.."
rounds=${1:-3}
i=1
while [ "$i" -le "$rounds" ]; do
  echo "testbed under load: round $i of $rounds"
  EDGE_CPU_LOAD=${2:-2} npx vitest run tests/testbed
  i=$((i + 1))
done
