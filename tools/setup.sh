#!/usr/bin/env bash
# Installs what gengraph needs. Idempotent; silent when everything is present.
#
#   bash tools/setup.sh           system packages (OpenMP, zlib, Open MPI, Graphviz) and Fashion-MNIST (what building, training
#                                 and `dump --format html` need)
#   bash tools/setup.sh --browser also Chromium, which the plan page's browser test (PlanPageBrowserTests) runs headless
#   bash tools/setup.sh --peers   also the reference implementations' Python environments (tools/peers):
#                                 PyTorch in ~/.cache/gg-peers/torch, JAX (optional) in ~/.cache/gg-peers/jax
#
# Under CI=true the PyTorch environment and Chromium are installed too, since the interop and browser tests must run there.
set -euo pipefail

peers=false
browser=false
for argument in "$@"; do
    case "$argument" in
        --peers) peers=true ;;
        --browser) browser=true ;;
        *) echo "setup: unknown argument '$argument' (usage: bash tools/setup.sh [--peers] [--browser])" >&2; exit 2 ;;
    esac
done
torch_wanted=$peers
[ "${CI:-}" = "true" ] && torch_wanted=true && browser=true

packages=(libomp-dev zlib1g-dev dataset-fashion-mnist openmpi-bin libopenmpi-dev graphviz)
$browser && packages+=(chromium)
if $torch_wanted && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    packages+=(python3 python3-venv)
fi
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
    # SwiftPM caches Package.swift's evaluation, which looked for libomp: a build
    # configured before this install would otherwise stay without OpenMP.
    rm -rf "$HOME/.cache/org.swift.swiftpm/manifests"
fi

# Python's safetensors and numpy let the tests check checkpoints against the
# reference safetensors library. Optional here: --peers brings them in its environment.
if command -v python3 >/dev/null && ! python3 -c "import safetensors, numpy" 2>/dev/null; then
    echo "setup: installing the Python packages safetensors and numpy (pip)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore safetensors numpy \
        || echo "setup: pip could not install safetensors and numpy; the checkpoint interop tests need them (or --peers)" >&2
fi

peers_home="$HOME/.cache/gg-peers"

# Makes the virtual environment $1 under $peers_home unless it already imports $2 (comma-separated);
# the remaining arguments are pip install commands' arguments, one command per ';'.
environment() {
    local directory="$peers_home/$1" modules="$2"
    shift 2
    if [ -x "$directory/bin/python" ] && "$directory/bin/python" -c "import $modules" 2>/dev/null; then
        return 0
    fi
    echo "setup: installing $modules into $directory (pip; PyTorch takes a few minutes)"
    python3 -m venv "$directory"
    local command=()
    for word in "$@" ";"; do
        if [ "$word" = ";" ]; then
            "$directory/bin/pip" install --quiet --disable-pip-version-check "${command[@]}" || return 1
            command=()
        else
            command+=("$word")
        fi
    done
    "$directory/bin/python" -c "import $modules"
}

if $torch_wanted; then
    # The CPU-only wheels are a fraction of the default ones; use their index when it answers.
    cpu_index=https://download.pytorch.org/whl/cpu
    torch_source=()
    if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=10)" "$cpu_index" 2>/dev/null; then
        torch_source=(--index-url "$cpu_index")
    fi
    environment torch "torch, numpy, safetensors" "${torch_source[@]}" torch ";" numpy safetensors \
        || { echo "setup: could not install PyTorch into $peers_home/torch" >&2; exit 1; }
fi

if $peers; then
    environment jax "jax, numpy" jax numpy \
        || echo "setup: could not install JAX into $peers_home/jax; only tools/peers/jax_ref.py needs it" >&2
fi
