#!/usr/bin/env bash
# build-deb.sh: build knockc's Debian package with dpkg-deb.
#
#   dist/build-deb.sh [-o DIR] [VERSION]
#
# VERSION (default: from git, 0~gitYYYYMMDD.SHA) becomes the package version
# and what `knockc --version` prints. The package holds the static binary
# (/usr/bin/knockc), knockc-monitor.service and knockc-apply.service/.timer
# (installed, not enabled: the operator writes /etc/knockc/knock.toml
# first), the monitor's system user (sysusers.d), the man page, the bash
# completion, the example specs and polkit rule. Needs go, dpkg-deb and
# gzip; no root.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.
if [ "${1:-}" = -o ]; then
	out=$2
	shift 2
fi
version=${1:-}
if [ -z "$version" ]; then
	version="0~git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=12 HEAD)"
fi
case $version in
[0-9]*) ;;
*) echo "build-deb.sh: version $version must start with a digit (Debian policy)" >&2; exit 1 ;;
esac
arch=$(go env GOARCH)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/knockc_${version}_$arch
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" \
	"$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
	"$root/usr/share/doc/knockc/examples"

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$root/usr/bin/knockc" ./cmd/knockc
for unit in knockc-monitor.service knockc-apply.service knockc-apply.timer; do
	sed 's|/usr/local/bin/knockc|/usr/bin/knockc|g' "examples/$unit" >"$root/lib/systemd/system/$unit"
done
# The monitor runs as its own system user (User=knockc in its unit).
install -m 0644 dist/debian/sysusers.conf "$root/usr/lib/sysusers.d/knockc.conf"
gzip -9n <dist/knockc.1 >"$root/usr/share/man/man1/knockc.1.gz"
install -m 0644 dist/knockc.bash-completion "$root/usr/share/bash-completion/completions/knockc"
install -m 0644 examples/*.toml examples/10-knockc-monitor.rules "$root/usr/share/doc/knockc/examples/"
install -m 0644 dist/debian/copyright "$root/usr/share/doc/knockc/copyright"
for s in postinst prerm postrm; do
	install -m 0755 "dist/debian/$s" "$root/DEBIAN/$s"
done
chmod -R u=rwX,go=rX "$root/usr" "$root/lib"
chmod 0755 "$root/usr/bin/knockc"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" dist/debian/control >"$root/DEBIAN/control"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out/knockc_${version}_$arch.deb"
