//! Test support shared by the registry and pull tests: a real registry
//! ([`registry::Registry`]), the PKI and token server it uses, and OCI layouts to push into it.
//! A test binary includes it with `#[path = "../support/mod.rs"] mod support;`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)] // a failed test setup should panic

pub mod layout;
pub mod pki;
pub mod registry;
pub mod token;

use std::path::PathBuf;

/// A current-thread runtime, as the house rule wants async run.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The OCI layout of fixture image `name` (`busybox`, `layered`), made by
/// `cargo xtask fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("fixtures").join(name).join("oci");
    assert!(
        dir.join("index.json").exists(),
        "{} missing: run `cargo xtask fixtures`",
        dir.display()
    );
    dir
}
