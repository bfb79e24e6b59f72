#!/usr/bin/env bash
# Make Debian's headless-capable Chromium available at /usr/bin/chromium for the page tests
# (tests/test_pages_offline.py, driven over the DevTools protocol by tests/browser.py).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium from Debian packages…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
