#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian bookworm machine (run as root, or with sudo available):
#   1. system packages: what ManiSkill/SAPIEN need (libvulkan1 + Mesa >= 25 lavapipe, from bookworm-backports
#      when the installed Mesa is older), libusb for open3d-style tooling, Chromium for the browser test of
#      `make ui`; video goes through PyAV wheels (no system ffmpeg);
#   2. a .venv with torch==2.13.0 (the local CPU wheel) and the project installed editable with the dev and
#      models extras (diffusers/transformers: the image-to-video backend and its tiny-weights tests), plus
#      LeRobot's reader without its CUDA dependencies (the export round-trip test).
# Re-running is cheap: each step checks first and skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=0
apt_update() { if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi; }

need_pkgs=()
# PHYSWORLD_SETUP=runtime (the user-code image, infra/k8s/Dockerfile) installs what runs the pipeline only;
# the default (development) adds what the tests use.
setup_kind="${PHYSWORLD_SETUP:-development}"
runtime_pkgs=(libvulkan1 libusb-1.0-0 libegl1 libgl1)
# chromium: the UI's browser test. postgresql: the production instance storage, started by the tests' fixture
# (not as a system service). FFmpeg 5 libraries: torchcodec (LeRobot's video decoder, export tests).
test_pkgs=(chromium postgresql libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59
           libavfilter8)
if [ "$setup_kind" = runtime ]; then test_pkgs=(); fi
for pkg in "${runtime_pkgs[@]}" "${test_pkgs[@]}" ${PHYSWORLD_EXTRA_APT:-}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "[setup] apt install ${need_pkgs[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
if ! dpkg --compare-versions "$mesa_version" ge 25; then
  echo "[setup] Mesa lavapipe $mesa_version < 25: installing mesa-vulkan-drivers from bookworm-backports"
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # The machine's own Debian mirror (the one serving bookworm main), from a one-line or a deb822 source.
    mirror=$(grep -hsE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm +' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
               | sed -E 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/' | head -n1)
    if [ -z "$mirror" ]; then
      mirror=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |$|\n)/ && /Components:[^\n]*main/ {
                 if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit } }' \
               /etc/apt/sources.list.d/*.sources 2>/dev/null)
    fi
    if [ -z "$mirror" ]; then
      echo "[setup] no apt source for Debian bookworm found; add bookworm-backports yourself" >&2
      exit 1
    fi
    echo "[setup] adding bookworm-backports from $mirror"
    echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    apt_updated=0
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libdrm2 >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.physworld-installed
want="$( (cat pyproject.toml infra/setup.sh; echo "$setup_kind") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] pip install (torch==2.13.0 CPU wheel, then the project)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q torch==2.13.0
  if [ "$setup_kind" = runtime ]; then
    .venv/bin/pip install -q -e '.[k8s,models]'
  else
    .venv/bin/pip install -q -e '.[dev,models]'
    # LeRobot's own dataset reader, for the export round-trip test. Its declared dependencies pull a CUDA
    # torch and torchvision, so it comes without them; what its reader needs (datasets, torchcodec) is in dev.
    .venv/bin/pip install -q --no-deps lerobot==0.4.4
  fi
  echo "$want" > "$stamp"
fi
echo "[setup] ok"
