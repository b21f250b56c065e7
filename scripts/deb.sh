#!/usr/bin/env bash
# Builds the Debian package of the checkout with dpkg-deb alone (make deb):
# $DIST/auth-session_VERSION_ARCH.deb, holding the binary (static,
# CGO_ENABLED=0), its man page, the bash, zsh and fish completions, the
# systemd unit and its environment file (a conffile) from deploy/, and the
# copyright notices of everything linked into the binary.
#
#   DIST            where the .deb goes (dist)
#   DEB_VERSION     the package's version; by default from git: 1.2.3 at the
#                   tag v1.2.3, 1.2.3+gitYYYYMMDDhhmmss.HASH after it, and
#                   0.0.0~gitYYYYMMDDhhmmss.HASH before any tag (the commit's
#                   UTC time and 12 hex digits, as Go's pseudo-versions),
#                   +dirty with uncommitted changes
#   GOARCH          the architecture to build for (go env GOARCH)
#   DEB_MAINTAINER  the Maintainer field (the committer of HEAD)
#   SOURCE_DATE_EPOCH  every file's time (the commit's time), so that the
#                   same checkout gives the same bytes
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
goarch=${GOARCH:-$($GO env GOARCH)}
hostarch=$($GO env GOHOSTARCH)

die() { echo "make deb: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb is not installed (apt-get install dpkg)"

# Debian's name for Go's architecture.
case $goarch in
amd64 | arm64 | s390x | riscv64 | loong64) arch=$goarch ;;
386) arch=i386 ;;
arm) arch=armhf ;;
ppc64le) arch=ppc64el ;;
mips64le) arch=mips64el ;;
mipsle) arch=mipsel ;;
*) die "no Debian architecture known for GOARCH=$goarch" ;;
esac

# The version, and the one the binary prints (Go's spelling: v1.2.3, or a
# pseudo-version v0.0.0-YYYYMMDDhhmmss-HASH).
if [ -n "${DEB_VERSION:-}" ]; then
	version=$DEB_VERSION
	goversion=v${DEB_VERSION//\~/-}
else
	git rev-parse --git-dir >/dev/null 2>&1 || die "not a git checkout: set DEB_VERSION (e.g. DEB_VERSION=1.2.3 make deb)"
	stamp=$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)
	hash=$(git rev-parse --short=12 HEAD)
	if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
		version=${tag#v}
		goversion=$tag
	elif tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
		version=${tag#v}+git$stamp.$hash
		goversion=$tag-$stamp-$hash
	else
		version=0.0.0~git$stamp.$hash
		goversion=v0.0.0-$stamp-$hash
	fi
	# A pre-release, v1.2.3-rc1, sorts before 1.2.3 in Debian as 1.2.3~rc1.
	version=${version//-/\~}
	if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
		version=$version+dirty
		goversion=$goversion+dirty
	fi
fi
dpkg --validate-version "$version" >/dev/null 2>&1 || die "DEB_VERSION $version is not a Debian version (digits first, then letters, digits and . + ~)"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${DEB_MAINTAINER:-$(git log -1 --format='%cn <%ce>' 2>/dev/null || true)}
[ -n "$maintainer" ] || die "set DEB_MAINTAINER (Name <email>)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" \
	"$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
	"$root/usr/share/fish/vendor_completions.d" "$root/lib/systemd/system" \
	"$root/etc/auth-session" "$root/usr/share/doc/auth-session"

# The Makefile's build tags (see its build target).
tags=${BUILD_TAGS:-urfave_cli_no_docs}
# Static, without the build directory's path or debugging information
# (Debian ships stripped binaries; a panic's stack trace still names the
# functions).
clipkg=$($GO list -f '{{.ImportPath}}' ./pkg/cli)
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch $GO build -buildvcs=auto -trimpath -tags "$tags" \
	-ldflags "-s -w -X $clipkg.Version=$goversion" -o "$root/usr/bin/auth-session" ./cmd/auth-session
# The man page and completions come from the binary; another architecture's
# cannot run here, so they come from one built for this machine.
gen=$root/usr/bin/auth-session
if [ "$goarch" != "$hostarch" ]; then
	gen=$work/auth-session
	CGO_ENABLED=0 GOARCH=$hostarch $GO build -tags "$tags" -o "$gen" ./cmd/auth-session
fi
"$gen" man | gzip -9n >"$root/usr/share/man/man1/auth-session.1.gz"
"$gen" completion bash >"$root/usr/share/bash-completion/completions/auth-session"
"$gen" completion zsh >"$root/usr/share/zsh/vendor-completions/_auth-session"
"$gen" completion fish >"$root/usr/share/fish/vendor_completions.d/auth-session.fish"

sed 's|/usr/local/bin/auth-session|/usr/bin/auth-session|g' deploy/auth-session.service >"$root/lib/systemd/system/auth-session.service"
# The environment file holds the database password: root's only, as the
# service manager reads it before it drops to the service's user.
install -m 0640 deploy/auth-session.env "$root/etc/auth-session/auth-session.env"
echo /etc/auth-session/auth-session.env >"$root/DEBIAN/conffiles"
install -m 0755 deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm "$root/DEBIAN/"
install -d -m 0755 "$root/usr/share/lintian/overrides"
install -m 0644 deploy/deb/lintian-overrides "$root/usr/share/lintian/overrides/auth-session"

# copyright: the project's, then the licence of each module linked into the
# binary and of Go's standard library, as their licences ask of a binary.
{
	cat <<-'EOF'
	auth-session: create, list and revoke web sessions stored in PostgreSQL.

	Copyright: the auth-session authors. The project has not published a
	licence yet.

	The binary /usr/bin/auth-session is statically linked with Go's standard
	library and the Go modules below; their copyright notices and licences
	follow.
	EOF
	$GO list -deps -tags "$tags" -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/auth-session |
		sort -u | while read -r path ver dir; do
		lic=$(find "$dir" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'LICENCE*' -o -iname 'COPYING*' \) | sort | head -1)
		[ -n "$lic" ] || die "module $path $ver has no LICENSE file in $dir"
		printf '\n%s\n%s %s\n%s\n\n' '------------------------------------------------------------------------' "$path" "$ver" "$(basename "$lic"):"
		if grep -q 'Apache License' "$lic" && grep -q 'Version 2.0' "$lic"; then
			# Debian's policy: point to the common copy of the Apache
			# licence (lintian refuses its full text), and keep the
			# module's NOTICE, which the licence asks to pass on.
			echo "Licensed under the Apache License, Version 2.0. On Debian systems, the"
			echo "full text is in /usr/share/common-licenses/Apache-2.0."
			for notice in "$dir"/NOTICE*; do
				[ -f "$notice" ] && { echo; cat "$notice"; }
			done
		else
			cat "$lic"
		fi
	done
	printf '\n%s\n%s %s\n\n' '------------------------------------------------------------------------' "Go's standard library" "$($GO env GOVERSION)"
	cat "$($GO env GOROOT)/LICENSE"
} >"$root/usr/share/doc/auth-session/copyright"

# changelog.gz, as a package built from its own sources (a native package)
# has it; the project's changes are in its CHANGELOG.md.
cat <<EOF | gzip -9n >"$root/usr/share/doc/auth-session/changelog.gz"
auth-session ($version) unstable; urgency=medium

  * Built by make deb from the git checkout, version
    $goversion.
    The changes are in the project's CHANGELOG.md.

 -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOF

cat >"$root/DEBIAN/control" <<EOF
Package: auth-session
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -s -k --apparent-size --exclude=DEBIAN "$root" | cut -f1)
Section: admin
Priority: optional
Description: create, list and revoke web sessions stored in PostgreSQL
 auth-session manages the sessions of web applications kept in a
 PostgreSQL table: logging users in and out, listing and revoking
 sessions, an audit trail and purging old rows, from the command line
 or over HTTP (auth-session serve, with the systemd unit
 auth-session.service, which is neither enabled nor started: fill in
 /etc/auth-session/auth-session.env first).
EOF

# md5sums of every file but the conffile (dpkg keeps the conffile's own),
# which debsums and dpkg --verify check the installed files against.
(cd "$root" && find usr lib -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

# The same checkout gives the same bytes: every time is SOURCE_DATE_EPOCH,
# every file root's, the permissions as set above whatever the umask.
chmod -R u+rwX,go+rX,go-w "$root/usr" "$root/lib" "$root/DEBIAN"
find "$root" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$DIST"
deb=$DIST/auth-session_${version}_$arch.deb
# xz at level 1: 12 % larger than dpkg-deb's default level 6 (4.8 MB for
# 4.3 MB), five times faster (2 s of CPU for 10).
dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$deb" >/dev/null
echo "$deb"
