#!/bin/sh
# Installs every build and test dependency of sinch-logd from Debian 12
# packages. Idempotent; safe to run again. Needs root.
set -eu

PKGS="
build-essential cmake pkg-config clang libclang-rt-14-dev
libuv1-dev libcurl4-openssl-dev libcjson-dev librdkafka-dev zlib1g-dev libssl-dev
libcmocka-dev
curl python3 procps util-linux openssl stunnel4 valgrind
dpkg-dev groff-base lintian logrotate
rsyslog rsyslog-relp rsyslog-gnutls
"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
echo "install-deps.sh: all dependencies present"
