#!/usr/bin/env bash
# Builds purple-otr_<version>-<revision>_<arch>.deb into the top of the tree (`make deb`).
#
# The files come from `make install PREFIX=/usr DESTDIR=<staging>` (plugin, icons,
# translations: one list of what gets installed, shared with a hand install); this adds
# what a Debian package carries besides (README, copyright, changelog.Debian.gz, md5sums,
# control) and packs it with dpkg-deb. The version is Cargo.toml's; the Debian revision is
# DEB_REVISION (default 1), and the top entry of packaging/deb/changelog must name both.
# Depends is what dpkg-shlibdeps reads from the plugin's ELF dependencies.
#
# Environment: CARGO, MAKE, DEB_REVISION, DEB_MAINTAINER ("Name <address>"), DEB_OUTDIR.
set -euo pipefail
umask 022
top="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$top"

MAKE="${MAKE:-make}"
revision="${DEB_REVISION:-1}"
maintainer="${DEB_MAINTAINER:-The purple-otr developers <purple-otr@users.noreply.github.com>}"
outdir="${DEB_OUTDIR:-$top}"
templates="$top/packaging/deb"

die() {
  echo "build-deb: $*" >&2
  exit 1
}

# [package] version = "X" from Cargo.toml (the first version line of that table).
version="$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' Cargo.toml | head -n 1)"
[ -n "$version" ] || die "no version in Cargo.toml's [package]"
debversion="$version-$revision"
arch="$(dpkg --print-architecture)"
homepage="$(sed -n 's/^homepage *= *"\(.*\)"$/\1/p' plugin-manifest/plugin.toml)"
plugindir="$(pkg-config --variable=plugindir purple)" ||
  die "pkg-config knows no plugindir for purple (apt-get install libpurple-dev)"

# The changelog must describe this version: a Cargo.toml bump needs a changelog entry.
changelog_version="$(dpkg-parsechangelog -l "$templates/changelog" -S Version)"
[ "$changelog_version" = "$debversion" ] ||
  die "packaging/deb/changelog's top entry is $changelog_version, Cargo.toml makes $debversion: add an entry"
# File dates inside the package: the changelog entry's (dpkg-deb clamps to it). Given to
# dpkg-deb alone: the cc crate reads it too, and a changed value would rebuild the plugin.
date_epoch="$(dpkg-parsechangelog -l "$templates/changelog" -S Timestamp)"

work="$top/target/deb"
stage="$work/purple-otr_${debversion}_$arch"
rm -rf "$work"
mkdir -p "$stage/DEBIAN"

# Plugin, icons, translations: exactly what a system install puts in place.
"$MAKE" --no-print-directory install PREFIX=/usr DESTDIR="$stage" CARGO="${CARGO:-cargo}"
so="$stage$plugindir/purple-otr.so"
[ -f "$so" ] || die "make install did not put the plugin at $plugindir/purple-otr.so"
# Debian ships binaries stripped (debug symbols belong in a separate -dbgsym package).
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$so"

# Documentation: README and changelog compressed (Debian policy 12.3), copyright not.
doc="$stage/usr/share/doc/purple-otr"
install -d "$doc"
gzip -9n <README.md >"$doc/README.md.gz"
install -m 0644 "$templates/copyright" "$doc/copyright"
gzip -9n <"$templates/changelog" >"$doc/changelog.Debian.gz"
if [ -f "$templates/lintian-overrides" ]; then
  install -D -m 0644 "$templates/lintian-overrides" "$stage/usr/share/lintian/overrides/purple-otr"
fi
chmod 0644 "$doc"/*

# Depends from the plugin's needed libraries (dpkg-shlibdeps wants a debian/control naming
# the package in its working directory).
mkdir -p "$work/shlibdeps/debian"
printf 'Source: purple-otr\n\nPackage: purple-otr\nArchitecture: any\n' >"$work/shlibdeps/debian/control"
depends="$(cd "$work/shlibdeps" && dpkg-shlibdeps -O -e"$so")"
depends="${depends#shlibs:Depends=}"
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies in $so"

# Every directory 0755, every file 0644 (the package has no executables).
find "$stage" -path "$stage/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$stage" -path "$stage/DEBIAN" -prune -o -type f -exec chmod 0644 {} +

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s|@VERSION@|$debversion|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" \
  -e "s|@HOMEPAGE@|$homepage|" "$templates/control.in" >"$stage/DEBIAN/control"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

deb="$outdir/purple-otr_${debversion}_$arch.deb"
SOURCE_DATE_EPOCH="$date_epoch" dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "Built $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends Installed-Size
