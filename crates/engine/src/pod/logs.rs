//! `pod logs [-f]`: the logs of a pod's containers (its infra writes none), each line handed
//! on with its container's name; following reads every member's log at once
//! ([`crate::logs::follow_many`]).

use std::path::PathBuf;

use super::Pods;
use crate::container::ContainerRecord;
use crate::error::{Error, Result};
use crate::logs::{ReadOptions, Stream};

impl Pods<'_> {
    /// `pod logs`: the logs of pod `key`'s members (or of the one member `only` names: a
    /// name or an id prefix), oldest member first, each line (with its `\n`; a last line
    /// whose end never came has none) given to `sink` with its container's name. `opts`
    /// (`tail`, `since`, `until`, `timestamps`) applies to each member's log.
    ///
    /// With `follow`, what the logs hold comes first, member after member; then every new
    /// line as it is written, whichever member writes it, until none of them runs (each
    /// log is read to its end first). A member restarted by its policy is followed across
    /// the restart (its log is the same file).
    ///
    /// # Errors
    /// [`Error::NoSuchPod`], [`Error::NoSuchContainer`] when `only` names no member,
    /// [`Error::Monitor`] when a log cannot be read, database errors.
    pub fn logs(
        &self,
        key: &str,
        only: Option<&str>,
        opts: &ReadOptions,
        follow: bool,
        sink: &mut impl FnMut(&str, Stream, &[u8]),
    ) -> Result<()> {
        let pod = self.get(key)?;
        let members: Vec<ContainerRecord> = self
            .members(&pod)?
            .into_iter()
            .filter(|m| !m.config.infra)
            .filter(|m| only.is_none_or(|c| c == m.name || m.id.starts_with(c)))
            .collect();
        if let Some(c) = only
            && members.is_empty()
        {
            return Err(Error::NoSuchContainer(format!("{c} in pod {}", pod.name)));
        }
        let paths: Vec<PathBuf> = members
            .iter()
            .map(|m| self.engine.paths(&m.id).log())
            .collect();
        let unreadable = |e: crate::logs::LogError| Error::Monitor {
            name: format!("of pod {}", pod.name),
            why: format!("cannot read its log: {e}"),
        };
        if follow {
            let containers = self.engine.containers();
            crate::logs::follow_many(
                &paths,
                opts,
                |i| containers.is_live(&members[i].id),
                &mut |i, stream, line| sink(&members[i].name, stream, line),
            )
            .map_err(unreadable)
        } else {
            for (member, path) in members.iter().zip(&paths) {
                crate::logs::read(path, opts, &mut |stream, line| {
                    sink(&member.name, stream, line);
                })
                .map_err(unreadable)?;
            }
            Ok(())
        }
    }
}
