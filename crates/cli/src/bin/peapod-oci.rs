//! `peapod-oci`: a runc-compatible OCI runtime command line.

fn main() -> std::process::ExitCode {
    peapod_cli::oci::main()
}
