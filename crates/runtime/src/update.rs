//! Live changes and measurements of a container's resources: runc's `update` and the
//! numbers behind its `events`.

use oci_spec::runtime::LinuxResources;
pub use peapod_cgroup::Stats;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::state::Status;

impl Container {
    /// Applies `resources` to the container's cgroup while it lives (created, running or
    /// paused), as `runc update` does: only the settings `resources` has are written; the
    /// others keep their values. Settings this host cannot apply and runc goes on without
    /// come back as warnings ([`Error::ResourceIgnored`]); an invalid value, or one the
    /// kernel refuses (a memory limit under the current usage: EBUSY), is an error, and
    /// the settings written before it stay.
    pub fn update(&self, resources: &LinuxResources) -> Result<Vec<Error>> {
        self.require(
            "update",
            &[Status::Created, Status::Running, Status::Paused],
            "created, running or paused",
        )?;
        let warnings = self.cgroup()?.apply(resources)?;
        Ok(warnings.into_iter().map(Error::ResourceIgnored).collect())
    }

    /// The resource usage of the container's cgroup (memory, OOM kills, pids, CPU time).
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.cgroup()?.stats()?)
    }
}
