#!/usr/bin/env bash
# Builds a stand-in for the official Deno image where its registry cannot be
# reached: what the Containerfile relies on, and nothing else. `deno` on the
# PATH (the binary of this machine's Deno, from its npm package), a POSIX sh
# (dash), the user deno (uid 1993), DENO_DIR, and the CA certificates the
# npm registry needs. Usage: deploy/build-local-base.sh [IMAGE]
set -euo pipefail
image=${1:-localhost/echolab-deno-base:latest}
deno=$(readlink -f "$(command -v deno)")
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$ctr")

copy() { # copy FILE into the image at the same path, with its directory
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
copy_with_libraries() { # a program and every shared library ldd lists
  copy "$1"
  for library in $(ldd "$1" | grep -oE '/[^ ]+'); do copy "$library"; done
}

mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/deno-dir"
cp "$deno" "$root/usr/local/bin/deno"
for library in $(ldd "$deno" | grep -oE '/[^ ]+'); do copy "$library"; done
copy_with_libraries "$(readlink -f /bin/dash)"
cp -L "$(readlink -f /bin/dash)" "$root/bin/sh"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\ndeno:x:1993:1993:deno:/home/deno:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ndeno:x:1993:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chown 1993:1993 "$root/deno-dir"
buildah umount "$ctr" >/dev/null
buildah config \
  --env PATH=/usr/local/bin:/usr/bin:/bin \
  --env DENO_DIR=/deno-dir/ \
  --env DENO_NO_UPDATE_CHECK=1 \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --cmd '["deno"]' "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
echo "$image"
