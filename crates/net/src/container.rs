//! One container's whole network, set up as a transaction and torn down best effort: what an
//! engine calls around a container's life.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{NetError, Result};
use crate::firewall::{ContainerPorts, Firewall};
use crate::link::{Attachment, detach, link_names};
use crate::netns::{create_netns, remove_netns};

/// Everything one container's network is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerNetwork {
    /// Where its network namespace is pinned (a new file; its directory must exist).
    pub netns_path: PathBuf,
    /// One attachment per network it joins (none for a namespace with only loopback, as
    /// `--network none`).
    pub attachments: Vec<Attachment>,
    /// What it publishes (an empty list for nothing).
    pub ports: ContainerPorts,
}

impl ContainerNetwork {
    /// Validates, then sets up: the ports are checked first (free on the host, not published
    /// by another container); then the namespace is created and pinned, each attachment made,
    /// and the ports published. On any failure what was done is undone, in reverse, and the
    /// first error is returned: no namespace file, veth or rule is left. Returns the namespace,
    /// opened.
    ///
    /// # Errors
    /// The error of the step that failed ([`NetError::PortInUse`], [`NetError::NoSuchLink`],
    /// ...).
    pub fn setup(&self, fw: &dyn Firewall) -> Result<OwnedFd> {
        fw.check_ports(&self.ports.ports)?;
        let ns = create_netns(&self.netns_path)?;
        let mut attached = 0;
        let done = self
            .attachments
            .iter()
            .try_for_each(|a| {
                a.attach(ns.as_fd())?;
                attached += 1;
                Ok(())
            })
            .and_then(|()| fw.publish(&self.ports));
        match done {
            Ok(()) => Ok(ns),
            Err(e) => {
                // Undone synchronously, so that nothing is left when the error is returned.
                for a in self.attachments[..attached].iter().rev() {
                    let _ = detach(&a.host_ifname);
                }
                drop(ns);
                let _ = remove_netns(&self.netns_path);
                Err(e)
            }
        }
    }

    /// Tears down best effort: unpublishes the ports and unpins the namespace, whatever fails.
    /// The kernel deletes the veth pairs with the namespace, in the background, once no
    /// process is left in it ([`ContainerNetwork::wait_links_gone`] waits for that).
    ///
    /// # Errors
    /// [`NetError::Teardown`] listing every step that failed, after all ran.
    pub fn teardown(&self, fw: &dyn Firewall) -> Result<()> {
        let errors: Vec<NetError> = [fw.unpublish(&self.ports), remove_netns(&self.netns_path)]
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(NetError::Teardown(errors))
        }
    }

    /// Waits until no host end of the container's veth pairs is left, polling every
    /// millisecond for at most `timeout`. Returns whether they are all gone.
    ///
    /// # Errors
    /// [`NetError::Netlink`] if the links cannot be listed.
    pub fn wait_links_gone(&self, timeout: Duration) -> Result<bool> {
        let start = Instant::now();
        loop {
            let names = link_names()?;
            let left = self
                .attachments
                .iter()
                .any(|a| names.contains(&a.host_ifname));
            if !left {
                return Ok(true);
            }
            if start.elapsed() >= timeout {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
