#!/usr/bin/env bash
# Builds the local stand-in for python:3.10.13-slim-bookworm (no registry is reachable here):
# Debian bookworm from the apt mirror (debootstrap minbase) with pyenv's Python 3.10.13 copied
# into /usr/local, imported into the store of ./podman as $1. Skips the work if $1 exists.
#   runner_image/local/python_base.sh localhost/fullcycle-base/python:3.10.13-slim-bookworm
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag="$1"
version="$(cat "$here/../../.python-version")"
python_home="${PYENV_ROOT:-$HOME/.pyenv}/versions/$version"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt

if "$here/podman" image exists "$tag"; then
    echo "python base: $tag already in the store"; exit 0
fi
test -x "$python_home/bin/python$version" || test -x "$python_home/bin/python${version%.*}" \
    || { echo "python base: no Python $version at $python_home (pyenv install $version)"; exit 1; }

work="$(mktemp -d /var/tmp/fullcycle-rootfs.XXXXXX)"
trap 'umount -R "$rootfs/proc" "$rootfs/sys" 2>/dev/null || true; rm -rf --one-file-system "$work"' EXIT
rootfs="$work/rootfs"
# The libraries pyenv's build links (ssl, ffi, sqlite, readline, bz2, lzma, zlib, uuid, gdbm,
# ncurses, expat) and what python:*-slim carries besides (CA certificates, tzdata, netbase).
debootstrap --variant=minbase \
    --include=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libreadline8,libbz2-1.0,liblzma5,zlib1g,libuuid1,libgdbm6,libncursesw6,libexpat1 \
    bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
# Python: pyenv's build, without its test suite and this machine's own .pth files.
tar -C "$python_home" --exclude='./lib/python3*/test' --exclude='./lib/python3*/site-packages/_sandboxing*' \
    -c . | tar -C "$rootfs/usr/local" -x
for script in "$rootfs"/usr/local/bin/*; do
    if [ -f "$script" ] && head -c 2 "$script" | grep -q '#!'; then
        sed -i "1s|^#!$python_home/bin/|#!/usr/local/bin/|" "$script"
    fi
done
chroot "$rootfs" ldconfig
# Downloads in `podman build` go through this machine's TLS interception: trust its CA bundle.
cp "$ca_bundle" "$rootfs$ca_bundle"
chroot "$rootfs" /usr/local/bin/python3 -c "import ssl, sqlite3, ctypes, readline, bz2, lzma, zlib, uuid; print('python base:', __import__('sys').version)"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | "$here/podman" import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV SSL_CERT_FILE=$ca_bundle" \
    --change "ENV PIP_CERT=$ca_bundle" \
    --change 'CMD ["python3"]' - "$tag"
