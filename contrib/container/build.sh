#!/usr/bin/env bash
# Builds the `msrp` OCI image (msrp-server, msrp-client, msrp-check, msrp-sim in /bin) with
# whatever builder is present: docker build, podman build or buildah bud.
#
#   contrib/container/build.sh [TAG]          # default msrp:latest
#   MSRP_OCI_BUILDER=podman contrib/container/build.sh
#   contrib/container/build.sh --stage-only   # binaries into the context, no image
#
# The binaries are built on the host (no image registry is needed): static musl binaries
# when `rustup target add x86_64-unknown-linux-musl` works (offline it may not), otherwise
# the glibc binaries with the shared libraries `ldd` lists copied beside them, so the
# image still needs no base image. Exit status: 0 built, 1 the build failed, 2 no builder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tag="msrp:latest"
stage_only=false
for a in "$@"; do
  case "$a" in
    --stage-only) stage_only=true ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) tag="$a" ;;
  esac
done
bins=(msrp-server msrp-client msrp-check msrp-sim)
musl=x86_64-unknown-linux-musl
ctx="$repo/target/container"
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/bin"

cd "$repo"
build_args=(build --release --locked --bin msrp-check --bin msrp-sim -p msrp
            --bin msrp-server --bin msrp-client -p msrp-reference)
if rustup target list --installed 2>/dev/null | grep -qx "$musl" \
   || rustup target add "$musl" >/dev/null 2>&1; then
  echo "build.sh: static binaries ($musl)"
  cargo "${build_args[@]}" --target "$musl"
  for b in "${bins[@]}"; do cp "target/$musl/release/$b" "$ctx/rootfs/bin/"; done
  kind="static ($musl)"
else
  echo "build.sh: the $musl target cannot be installed here; glibc binaries with their libraries"
  cargo "${build_args[@]}"
  for b in "${bins[@]}"; do
    cp "target/release/$b" "$ctx/rootfs/bin/"
    # Every library the binary loads, and the loader, at the paths it looks for them.
    ldd "target/release/$b" | grep -o '/[^ ]*' | while read -r lib; do
      mkdir -p "$ctx/rootfs$(dirname "$lib")"
      cp -L "$lib" "$ctx/rootfs$lib"
    done
  done
  kind="glibc with its libraries"
fi
cp "$here/Containerfile" "$ctx/Containerfile"
echo "build.sh: staged ${bins[*]} ($kind) in $ctx"
$stage_only && exit 0

builder="${MSRP_OCI_BUILDER:-}"
if [ -z "$builder" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker
  elif command -v podman >/dev/null; then builder=podman
  elif command -v buildah >/dev/null; then builder=buildah
  fi
fi
case "$builder" in
  docker|podman) "$builder" build -f "$ctx/Containerfile" -t "$tag" "$ctx" ;;
  buildah) buildah bud -f "$ctx/Containerfile" -t "$tag" "$ctx" ;;
  "") echo "build.sh: no OCI builder (docker with a running daemon, podman or buildah): the binaries are staged in $ctx, no image built" >&2; exit 2 ;;
  *) echo "build.sh: unknown builder $builder (docker, podman, buildah)" >&2; exit 2 ;;
esac
echo "build.sh: built $tag with $builder"
