#!/usr/bin/env bash
# Builds the hello-c plugin into OUT_DIR/hello-c.wasm, a component for `piston serve`.
#
#   plugins/hello-c/build.sh OUT_DIR
#
# Needs clang, wasm-ld and wasi-libc for wasm32 (Debian 12:
# `apt-get install clang lld wasi-libc libclang-rt-dev-wasm32`), and `wasm-component-ld`,
# which turns the linked module into a component. The Rust toolchain that builds the
# Rust plugins for wasm32-wasip2 ships one; `cargo install wasm-component-ld` is the
# other way. The recipe and its reasons are in guest-sdk/c/README.md.
#
# Environment: CC (default clang; clang-19 works too), WASI_TARGET (default wasm32-wasi,
# the name of Debian's wasi-libc; wasm32-wasip1 for a wasi-sdk sysroot), WASI_SYSROOT (a
# wasi-libc sysroot, when the compiler has none built in),
# WASM_COMPONENT_LD and WASM_LD (the tools, when not found by themselves), CFLAGS (extra
# compiler flags).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk="$(cd "$here/../../guest-sdk/c" && pwd)"
bindings="$sdk/bindings"
name="hello-c"
debian_packages="clang lld wasi-libc libclang-rt-dev-wasm32"

die() {
    echo "$name: $*" >&2
    exit 1
}

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out="$1"

cc="${CC:-clang}"
target="${WASI_TARGET:-wasm32-wasi}"
sysroot=()
if [ -n "${WASI_SYSROOT:-}" ]; then
    sysroot=(--sysroot "$WASI_SYSROOT")
fi

# The C toolchain.
command -v "$cc" >/dev/null 2>&1 ||
    die "no C compiler '$cc'; on Debian: apt-get install $debian_packages"
libc="$("$cc" --target="$target" "${sysroot[@]}" -print-file-name=libc.a)"
[ -f "$libc" ] ||
    die "'$cc' finds no wasi-libc for $target; on Debian: apt-get install wasi-libc (or set WASI_SYSROOT)"
builtins="$("$cc" --target="$target" "${sysroot[@]}" -print-libgcc-file-name)"
[ -f "$builtins" ] ||
    die "'$cc' has no wasm32 runtime builtins ($builtins); on Debian: apt-get install libclang-rt-dev-wasm32"
wasm_ld_flag=()
if [ -n "${WASM_LD:-}" ]; then
    wasm_ld_flag=("-Wl,--wasm-ld-path=$WASM_LD")
else
    command -v wasm-ld >/dev/null 2>&1 ||
        die "no wasm-ld; on Debian: apt-get install lld (or set WASM_LD)"
fi

# The component linker: WASM_COMPONENT_LD, else on PATH, else the Rust toolchain's.
component_ld="${WASM_COMPONENT_LD:-}"
if [ -z "$component_ld" ]; then
    if command -v wasm-component-ld >/dev/null 2>&1; then
        component_ld="$(command -v wasm-component-ld)"
    elif command -v rustc >/dev/null 2>&1; then
        host="$(rustc -vV | sed -n 's/^host: //p')"
        component_ld="$(rustc --print sysroot)/lib/rustlib/$host/bin/wasm-component-ld"
    fi
fi
[ -n "$component_ld" ] && [ -x "$component_ld" ] ||
    die "no wasm-component-ld; install Rust from rustup (its toolchain ships one), or run: cargo install wasm-component-ld"

[ -f "$bindings/plugin.h" ] || die "no bindings in $bindings"

mkdir -p "$out"
cmd=(
    "$cc" --target="$target" "${sysroot[@]}"
    -mexec-model=reactor
    -std=c11 -O2 -Wall -Wextra -Werror
    ${CFLAGS:-}
    -I "$sdk" -I "$bindings"
    "$here/hello.c" "$sdk/piston.c" "$bindings/plugin.c" "$bindings/plugin_component_type.o"
    -fuse-ld="$component_ld" "${wasm_ld_flag[@]}"
    -Wl,--strip-debug
    -o "$out/$name.wasm"
)
echo "+ ${cmd[*]}" >&2
"${cmd[@]}"
echo "$name: built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)" >&2
