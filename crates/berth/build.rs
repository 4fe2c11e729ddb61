//! Link options for the `berth` binary.
//!
//! On Linux with glibc, pack the binary's relative relocations (RELR, `-z pack-relative-relocs`,
//! GNU ld 2.38+ and glibc 2.36+). A position-independent Rust binary carries one 24-byte
//! relocation record per pointer in its read-only data (vtables, static tables); the dynamic
//! loader reads them all at every start, so they sit in memory for the process's life. RELR
//! stores the same relocations as a bitmap, about a hundredth of the size. The binary stays
//! position-independent (ASLR is unchanged).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
