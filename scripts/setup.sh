#!/usr/bin/env bash
# Sets up a fresh Debian machine: Chromium (whose SwiftShader gives WebGPU on a CPU, for the
# browser and for Dawn in Node), the Vulkan loader, the KJV text that `npm run pretrain` trains on
# (Debian's bible-kjv, public domain), and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/lib/chromium/vk_swiftshader_icd.json ] || ! dpkg -s libvulkan1 >/dev/null 2>&1 \
  || ! command -v bible >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium libvulkan1 bible-kjv >/dev/null
fi
npm ci --no-audit --no-fund
