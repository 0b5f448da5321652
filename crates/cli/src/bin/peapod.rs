//! `peapod`: the daemonless container engine's command line.

fn main() -> std::process::ExitCode {
    peapod_cli::commands::main()
}
