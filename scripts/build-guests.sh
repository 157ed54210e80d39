#!/usr/bin/env bash
# Builds the SP1 guest programs (guests/<name>) into guests/elf/<name>.elf.
#
# SP1 6.x guests are RV64IM ELF64 binaries. The Succinct toolchain is not
# needed: Debian's rustc with its standard library source builds them with
# `-Zbuild-std` for the target in guests/riscv64im-succinct-zkvm-elf.json.
# On a fresh machine this script installs what it needs with apt (as root,
# or through sudo): rustc-web cargo-web rust-web-src lld clang.
#
# Usage: scripts/build-guests.sh [--no-install]
# Environment: GUESTS_TARGET_DIR (default guests/target),
#              PAAS_SP1_ELF_DIR  (default guests/elf; the SP1 host reads it too).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
guests="$root/guests"
target_json="$guests/riscv64im-succinct-zkvm-elf.json"
target_name="riscv64im-succinct-zkvm-elf"
elf_dir="${PAAS_SP1_ELF_DIR:-$guests/elf}"
target_dir="${GUESTS_TARGET_DIR:-$guests/target}"
programs=(fibonacci checkpoint)
rustc=/usr/bin/rustc
cargo=/usr/bin/cargo

install=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $arg (try --help)" >&2; exit 2 ;;
  esac
done

have_toolchain() {
  [[ -x "$rustc" && -x "$cargo" ]] &&
    [[ -d "$("$rustc" --print sysroot)/lib/rustlib/src/rust/library" ]] &&
    command -v ld.lld >/dev/null 2>&1
}

if ! have_toolchain; then
  if [[ "$install" == 0 ]]; then
    echo "Debian's rustc, cargo, rust source and lld are missing; run without --no-install" >&2
    exit 1
  fi
  echo "installing the guest toolchain with apt (rustc-web cargo-web rust-web-src lld clang)"
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to apt-get install" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    rustc-web cargo-web rust-web-src lld clang >/dev/null
  have_toolchain || { echo "the apt packages did not provide the guest toolchain" >&2; exit 1; }
fi

echo "guest toolchain: $("$rustc" --version)"

# Flags (one per \x1f-separated field): lower atomics to plain loads and
# stores (SP1 has no A extension), load the program above 0x7800_0000 where
# the SP1 executor expects it, abort on panic, and let getrandom use a custom
# backend (SP1 supplies none).
flags=(
  -C passes=lower-atomic
  -C link-arg=--image-base=2013265920
  -C panic=abort
  --cfg 'getrandom_backend="custom"'
)
encoded="$(printf '%s\x1f' "${flags[@]}")"
encoded="${encoded%$'\x1f'}"

(
  cd "$guests"
  unset RUSTFLAGS RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET
  CARGO_TARGET_DIR="$target_dir" \
    RUSTC="$rustc" \
    RUSTC_BOOTSTRAP=1 \
    CARGO_ENCODED_RUSTFLAGS="$encoded" \
    "$cargo" build --release --locked \
    -Zbuild-std=std,panic_abort \
    -Zbuild-std-features=compiler-builtins-mem \
    -Zjson-target-spec \
    --target "$target_json" \
    $(printf -- '-p %s ' "${programs[@]}")
)

mkdir -p "$elf_dir"
for program in "${programs[@]}"; do
  src="$target_dir/$target_name/release/$program"
  cp "$src" "$elf_dir/$program.elf"
  echo "built $elf_dir/$program.elf ($(stat -c %s "$elf_dir/$program.elf") bytes)"
done
