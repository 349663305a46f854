#!/usr/bin/env bash
# Installs every system package gengraph needs. Idempotent; silent when all are present.
set -euo pipefail
packages=(libomp-dev zlib1g-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python's safetensors and numpy let the tests check checkpoints against the
# reference safetensors library. Optional: that test is skipped without them.
if command -v python3 >/dev/null && ! python3 -c "import safetensors, numpy" 2>/dev/null; then
    echo "setup: installing the Python packages safetensors and numpy (pip)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore safetensors numpy \
        || echo "setup: pip could not install safetensors and numpy; the checkpoint interop test will be skipped" >&2
fi
