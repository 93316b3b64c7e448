#!/usr/bin/env bash
# Builds the Debian package xikang_<version>_<arch>.deb with dpkg-deb alone (no cargo-deb,
# whose own build takes minutes on two cores; docs/decisions.md): the binary, the systemd unit, the
# example configuration as a conffile, and maintainer scripts that create the `xikang`
# system user and enable the unit.
#
#   deploy/build-deb.sh                       # cargo build --release, then package
#   XIKANG_BIN=path/to/xikang deploy/build-deb.sh   # package an existing binary
#   OUT_DIR=dist deploy/build-deb.sh          # where the .deb goes (default target/debian)
#   DEB_COMPRESSION=none deploy/build-deb.sh  # dpkg-deb -Z: xz (default), gzip, zstd, none
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
target="${CARGO_TARGET_DIR:-target}"
bin="${XIKANG_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -p xikang
  bin="$target/release/xikang"
fi
out="${OUT_DIR:-$target/debian}"
mkdir -p "$out"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -Dm755 "$bin" "$root/usr/bin/xikang"
install -Dm644 deploy/xikang.service "$root/lib/systemd/system/xikang.service"
install -Dm644 deploy/xikang.toml "$root/etc/xikang/xikang.toml"
install -Dm644 README.md "$root/usr/share/doc/xikang/README.md"
install -Dm644 deploy/README.md "$root/usr/share/doc/xikang/deploy.md"
install -Dm644 docs/metrics.md "$root/usr/share/doc/xikang/metrics.md"
install -Dm644 deploy/grafana-dashboard.json "$root/usr/share/doc/xikang/grafana-dashboard.json"
cat >"$root/usr/share/doc/xikang/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: xikang
License: Apache-2.0

Files: *
Copyright: the xikang authors
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: xikang
Version: $version
Architecture: $arch
Maintainer: xikang maintainers <xikang@localhost>
Installed-Size: $size
Depends: libc6 (>= 2.34), adduser
Section: net
Priority: optional
Homepage: https://github.com/xikang/xikang
Description: outbreak-control platform: health codes, venue scans, contact tracing
 xikang (锡康) serves signed health codes whose colour follows public rules kept in
 versioned policy files, records venue scans durably, and traces contacts in
 milliseconds. Runs as the systemd service xikang.service, configured in
 /etc/xikang/xikang.toml; see /usr/share/doc/xikang/deploy.md.
CONTROL
echo /etc/xikang/xikang.toml >"$root/DEBIAN/conffiles"

cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd xikang >/dev/null; then
    adduser --system --group --home /var/lib/xikang --no-create-home \
      --gecos "xikang server" --quiet xikang
  fi
  # The configuration may name secrets (a metrics token file, a database URL): group-readable only.
  chown root:xikang /etc/xikang /etc/xikang/xikang.toml
  chmod 0750 /etc/xikang
  chmod 0640 /etc/xikang/xikang.toml
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable xikang.service >/dev/null || true
    systemctl restart xikang.service || true
  fi
fi
POSTINST
cat >"$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop xikang.service || true
fi
PRERM
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
  # The data (/var/lib/xikang) is kept: check-ins and the authority log are records.
  if [ -d /run/systemd/system ]; then systemctl disable xikang.service >/dev/null 2>&1 || true; fi
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

deb="$out/xikang_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
