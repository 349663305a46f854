#!/usr/bin/env bash
# Sets up the machine, builds the release binaries and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --browser  # Chromium: the plan page's test loads it in a real browser
swift build -c release
swift test
