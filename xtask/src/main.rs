//! `cargo xtask`: peapod's developer tasks.
//!
//! - `deps`: install the host packages the project and its tests need (idempotent, as root).
//! - `fixtures`: build the test images, deterministically and offline, under `target/fixtures`.
//! - `test`: the one test command: deps, fixtures, lints, then every test, privileged included,
//!   on the host and then in a VM.
//! - `vm-test`: every test, privileged included, in a VM (cgroup v2, Debian's kernel); no root.
//! - `demo`: show what peapod does today, on a fresh machine, offline.
//! - `dist`: the release binaries as they ship (static).
//! - `bench`: peapod against its peers, side by side in one run (`bench runtime`, `bench
//!   image`, `bench clients`, `bench engine`, `bench pod`, `bench build`, `bench net`).

mod bench;
mod bench_build;
mod bench_clients;
mod bench_engine;
mod bench_image;
mod bench_net;
mod bench_pod;
mod demo;
mod demo_engine;
mod demo_pod;
mod deps;
mod deps_apt;
mod deps_criu;
mod deps_kubectl;
mod dist;
mod fixtures;
mod test;
mod util;
mod vm;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "peapod's developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install the host packages the project needs (apt; only what is missing).
    Deps,
    /// Build the test images under target/fixtures (deterministic, offline).
    Fixtures {
        /// Also the `debian` image (Debian's archive, umoci; cached once built).
        #[arg(long)]
        debian: bool,
    },
    /// Run every test, privileged ones included (needs root).
    Test(test::Args),
    /// Run every test, privileged ones included, in a VM: a cgroup v2-only host (no root).
    VmTest(vm::Args),
    /// Show what peapod does, offline.
    Demo,
    /// Build the release binaries as they ship: static, in target/<host>/release.
    Dist,
    /// Measure peapod against its peers (runc, crun, podman, docker) side by side; prints medians and ratios.
    Bench(bench::Args),
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Deps => deps::ensure(),
        Task::Fixtures { debian } => fixtures::build_default().and_then(|dir| {
            if debian {
                fixtures::debian::ensure(&dir)?;
            }
            Ok(())
        }),
        Task::Test(args) => test::run(&args),
        Task::VmTest(args) => vm::run(&args),
        Task::Demo => demo::run(),
        Task::Dist => dist::run(),
        Task::Bench(args) => bench::run(&args),
    }
}
