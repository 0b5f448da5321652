//! `peapod`: the daemonless container engine's command line.

fn main() -> std::process::ExitCode {
    // A container's monitor is this program re-executed: it takes over here.
    peapod_engine::monitor::dispatch();
    peapod_cli::commands::main()
}
