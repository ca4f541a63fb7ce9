#!/bin/sh
# rustc wrapper for the fuzz build (fuzz/.cargo/config.toml): compiles the cryptographic
# primitive crates without libFuzzer's coverage instrumentation, everything else as cargo-fuzz
# asks. Their code is constant time by design (few data-dependent branches for coverage to
# see), tested by their authors, and instrumented it spent most of a deep target's time tracing
# the limb comparisons of 1536-bit arithmetic. Our own code, and every parser of peer input
# (base64 included), stays instrumented. Usage (by cargo): rustc-wrapper.sh RUSTC ARGS...
rustc=$1
shift
crate=
prev=
for a in "$@"; do
    [ "$prev" = --crate-name ] && crate=$a
    prev=$a
done
case $crate in
crypto_bigint | crypto_primes | sha1 | sha2 | sha3 | keccak | aes | ctr | cipher | \
    x25519_dalek | curve25519_dalek | ml_kem | kem | rand_chacha | ppv_lite86 | digest | \
    block_buffer | hybrid_array | subtle) ;;
*) exec "$rustc" "$@" ;;
esac
for a in "$@"; do
    shift
    case $a in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | -Cllvm-args=-simplifycfg-branch-fold-threshold=0) ;;
    *) set -- "$@" "$a" ;;
    esac
done
exec "$rustc" "$@"
