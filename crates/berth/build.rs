//! Link options for the `berth` binary.
//!
//! On Linux with glibc, pack the binary's relative relocations (RELR, `-z pack-relative-relocs`).
//! A position-independent Rust binary carries one 24-byte relocation record per pointer in its
//! read-only data (vtables, static tables); the dynamic loader reads them all at every start,
//! so they sit in memory for the process's life (590 KB for berth). RELR stores the same
//! relocations as a bitmap, about a hundredth of the size; the binary stays
//! position-independent, so ASLR is unchanged.
//!
//! It needs GNU ld 2.38+ and glibc 2.36+ where the binary is built (and so where it runs: the
//! binary then requires `GLIBC_ABI_DT_RELR`). The build script links a trivial program with
//! the option first and leaves it out when that fails, so older toolchains still build berth.

use std::process::{Command, Stdio};

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn toolchain_supports_relr() -> bool {
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        return false;
    };
    let out = std::path::Path::new(&out_dir).join("relr-probe");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let child = Command::new(cc)
        .args(["-x", "c", "-", "-o"])
        .arg(&out)
        .args(["-pie", "-fPIE", FLAG])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"int main(void) { return 0; }\n");
    }
    let linked = child.wait().is_ok_and(|s| s.success());
    // The probe must also run: a glibc without DT_RELR support refuses to load it.
    linked && Command::new(&out).status().is_ok_and(|s| s.success())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if os == "linux" && env == "gnu" && native && toolchain_supports_relr() {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    }
}
