//! `peapod port`: a container's published ports (`-p`, and `-P`'s choices).

use anyhow::Result;

use crate::commands::Globals;

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    container: String,
    /// Only this port (`80`, `53/udp`).
    port: Option<String>,
}

/// Prints `80/tcp -> 0.0.0.0:8080` lines, one per published port; with a port, only its
/// `HOST:PORT` lines, as docker does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let ports = engine.containers().ports(&args.container)?;
    let mut text = String::new();
    match &args.port {
        None => {
            for p in &ports {
                text.push_str(&format!(
                    "{}/{} -> {}\n",
                    p.container_port,
                    p.proto,
                    host(p)
                ));
            }
        }
        Some(want) => {
            let (port, proto) = want.split_once('/').unwrap_or((want, "tcp"));
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid port {want:?}: expected PORT[/PROTO]"))?;
            for p in ports
                .iter()
                .filter(|p| p.container_port == port && p.proto == proto)
            {
                text.push_str(&host(p));
                text.push('\n');
            }
            if text.is_empty() {
                // docker: asking for a port the container does not publish is an error.
                anyhow::bail!(
                    "no public port {want} published for container {}",
                    args.container
                );
            }
        }
    }
    crate::output::write_stdout(&text)
}

/// `0.0.0.0:8080`, `[::1]:8080`.
fn host(p: &peapod_engine::network::PortReport) -> String {
    std::net::SocketAddr::new(p.host_ip, p.host_port).to_string()
}
