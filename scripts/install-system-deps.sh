#!/usr/bin/env bash
# Debian packages yuqing and its tests need: Chromium for the dashboard test and for briefings as PDF, Noto CJK so
# Chinese renders in them, poppler-utils (pdftoppm) for the test that looks at a briefing's PDF pages, PostgreSQL's
# server (initdb, pg_ctl: Debian keeps them off PATH) for the tests of the alert state on PostgreSQL.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || command -v pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-system-deps: need ${missing[*]} (Debian packages) but cannot install as $(id -un); the browser, PDF and PostgreSQL tests will skip" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
