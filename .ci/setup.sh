#!/usr/bin/env bash
# Set up a fresh machine: system libraries Qt needs, then a virtual environment with fghash installed.
# Idempotent: a second run only checks. Usage: bash .ci/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# libxcb-cursor/icccm/keysyms: Qt's xcb platform plugin (a plain X server, Xvfb) refuses to start without them.
for lib in libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3 libxcb-cursor.so.0 \
           libxcb-icccm.so.4 libxcb-keysyms.so.1; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || need_apt+=("$lib")
done
if [ ${#need_apt[@]} -gt 0 ] && ! { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; }; then
    echo "note: missing ${need_apt[*]}; the tests (offscreen) run without them, but fghash-gui on an X server" \
         "needs them: ask an administrator for apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" >&2
fi
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing system libraries for Qt (${need_apt[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 \
        libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
        libxcb-render-util0 libxcb-image0 libxcb-xinerama0 >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision first: these versions are on local disk on our machines (about 2 minutes).
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" \
    || .venv/bin/python -m pip install -q "torch>=2.4" "torchvision>=0.19"
.venv/bin/python -m pip install -q -e ".[test]"
echo "fghash installed in .venv"
