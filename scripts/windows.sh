#!/usr/bin/env bash
# berth.exe on this Linux machine: Debian's Rust 1.96 (rustc-web, with the standard library's
# sources) builds std for x86_64-pc-windows-gnu with -Zbuild-std and links with MinGW. Runs
# clippy for that target, builds berth.exe (debug: see README "Windows"), and builds the
# stand-in bcryptprimitives.dll that the Wine test needs. The rustup toolchain stays the
# default for everything else; the Windows build has its own target folder, target/windows.
#
#   bash scripts/windows.sh            # clippy + build (+ the Wine stand-in DLL)
#   BERTH_WINDOWS_PROFILE=release bash scripts/windows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
  CLIPPY_DRIVER=/usr/bin/clippy-driver \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc \
  AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar \
  CARGO_TARGET_DIR="$PWD/target/windows"
# Debian's cargo, not rustup's proxy (which would pick the default toolchain).
export PATH="/usr/bin:$PATH"
cargo=/usr/bin/cargo
target=x86_64-pc-windows-gnu
profile=${BERTH_WINDOWS_PROFILE:-debug}
# -Zbuild-std as cargo's environment setting, so that cargo-clippy's inner `cargo check` has it.
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort

"$cargo" --version
echo "== clippy for $target (library and binaries: the tests drive the Linux engine)"
"$cargo" clippy --locked --target "$target" --lib --bins -- -D warnings
echo "== build berth.exe ($profile)"
if [ "$profile" = release ]; then
  "$cargo" build --locked --target "$target" --bin berth --release
else
  "$cargo" build --locked --target "$target" --bin berth
fi
exe="$CARGO_TARGET_DIR/$target/$profile/berth.exe"
ls -l "$exe"
# Only system DLLs: print what it imports.
x86_64-w64-mingw32-objdump -p "$exe" | awk '/DLL Name/ {print "  imports", $3}'

echo "== Wine stand-in bcryptprimitives.dll (ProcessPrng; Wine 8.0 lacks it)"
mkdir -p target/windows/wine
x86_64-w64-mingw32-gcc -O2 -shared -o target/windows/wine/bcryptprimitives.dll \
  scripts/wine/bcryptprimitives.c -lbcrypt
echo "berth.exe: $exe"
