//! `pod create`: the pod's row and its infra container's (with the pod's network options, its
//! address leased and its `/etc/hostname`, `hosts` and `resolv.conf` written, which every member
//! bind-mounts). Validated before anything is written; undone on any later failure.

use super::{PodCreateOptions, PodRecord, Pods};
use crate::container::{ContainerRecord, CreateOptions, NetworkMode, now_ns};
use crate::db::PodRow;
use crate::error::{Error, Result};

/// The image name an infra container shows (it has no image).
pub const INFRA_IMAGE: &str = "peapod-infra";

fn bad(flag: &'static str, value: &str, why: &str) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        why: why.to_owned(),
    }
}

impl Pods<'_> {
    /// `pod create`: a pod in state `created` (its infra is started by the first `start` of
    /// the pod or of a member).
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] (sharing or publishing without an infra, a bad `-p`, `--ip`…),
    /// [`Error::PodNameInUse`], [`Error::InvalidName`], network and database errors; none
    /// leaves anything behind.
    pub fn create(&self, opts: &PodCreateOptions) -> Result<PodRecord> {
        let engine = self.engine;
        let infra_opts = infra_options(opts, "");
        validate(opts, &infra_opts)?;
        let id = crate::container::new_id()?;
        let mut config = opts.clone();
        if !opts.infra {
            config.share = super::Share {
                net: false,
                ipc: false,
                uts: false,
                pid: false,
            };
        }
        let mut row = PodRow {
            id: id.clone(),
            name: String::new(),
            created: now_ns(),
            infra_id: None,
            config: String::new(),
        };
        self.insert_named(&mut row, &mut config)?;
        let mut record = PodRecord {
            id: id.clone(),
            name: row.name.clone(),
            created: row.created,
            infra_id: None,
            config,
        };
        if opts.infra {
            match self.create_infra(&record) {
                Ok(infra_id) => record.infra_id = Some(infra_id),
                Err(e) => {
                    let _ = engine.db.delete_pod(&id);
                    return Err(e);
                }
            }
        }
        crate::events::append(&engine.runroot, "pod create", &record.id, &record.name, "");
        Ok(record)
    }

    /// Inserts the row with the name asked for or a generated one (the hostname defaults to
    /// the name).
    fn insert_named(&self, row: &mut PodRow, config: &mut PodCreateOptions) -> Result<()> {
        let encode = |config: &PodCreateOptions| {
            serde_json::to_string(config).map_err(Error::json("a pod's options"))
        };
        if let Some(name) = &config.name {
            row.name = crate::container::validate_name(name)?.to_owned();
            config.hostname.get_or_insert_with(|| row.name.clone());
            row.config = encode(config)?;
            return self.engine.db.insert_pod(row);
        }
        let mut last = None;
        for attempt in 0..16 {
            row.name = crate::container::generate_name(attempt)?;
            let mut c = config.clone();
            c.hostname.get_or_insert_with(|| row.name.clone());
            row.config = encode(&c)?;
            match self.engine.db.insert_pod(row) {
                Err(e @ Error::PodNameInUse(_)) => last = Some(e),
                Ok(()) => {
                    *config = c;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::PodNameInUse(row.name.clone())))
    }

    /// The infra container's row, lease and `/etc` files; its id.
    fn create_infra(&self, pod: &PodRecord) -> Result<String> {
        let engine = self.engine;
        let id = crate::container::new_id()?;
        let mut record = ContainerRecord::new(
            id.clone(),
            String::new(),
            INFRA_IMAGE.to_owned(),
            infra_options(&pod.config, &pod.id),
        );
        record.name = format!("{}-infra", pod.short_id());
        record.config.name = Some(record.name.clone());
        record.config.config.hostname = Some(pod.hostname().to_owned());
        // Its network's other containers resolve the pod by its name.
        record.config.aliases.push(pod.name.clone());
        engine.db.insert_container(&record)?;
        let made = (|| -> Result<()> {
            let address = engine.containers().allocate_address(&record)?;
            let dir = engine.paths(&id).dir;
            std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
            crate::container::write_etc_files(
                &dir,
                pod.hostname(),
                &pod.name,
                &record.config,
                address.first().copied(),
            )?;
            engine.db.set_pod_infra(&pod.id, &id)?;
            if let NetworkMode::Bridge(network) = &record.config.network {
                crate::network::refresh_hosts(engine, network)?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(engine.paths(&id).dir);
            let _ = engine.db.delete_container(&id);
            return Err(e);
        }
        Ok(id)
    }
}

/// The infra container's options: the pod's network options, nothing else.
fn infra_options(opts: &PodCreateOptions, pod_id: &str) -> CreateOptions {
    CreateOptions {
        image: INFRA_IMAGE.to_owned(),
        labels: opts.labels.clone(),
        network: opts.network.clone(),
        publish: opts.publish.clone(),
        ip: opts.ip.clone(),
        dns: opts.dns.clone(),
        dns_search: opts.dns_search.clone(),
        add_hosts: opts.add_hosts.clone(),
        aliases: opts.aliases.clone(),
        pod: Some(pod_id.to_owned()),
        infra: true,
        ..CreateOptions::default()
    }
}

/// What can be checked before anything is written.
fn validate(opts: &PodCreateOptions, infra: &CreateOptions) -> Result<()> {
    if let Some(h) = &opts.hostname {
        crate::container::validate_name(h)
            .map_err(|_| bad("--hostname", h, "not a valid hostname"))?;
    }
    if !opts.infra {
        let shared = opts.share.names().join(",");
        if !opts.publish.is_empty() {
            return Err(bad(
                "--publish",
                &opts.publish.join(" "),
                "a pod without an infra container (--infra=false) cannot publish ports",
            ));
        }
        if opts.share != super::Share::default() && opts.share.any() {
            return Err(bad(
                "--share",
                &shared,
                "a pod without an infra container (--infra=false) shares no namespace",
            ));
        }
        return Ok(());
    }
    if let NetworkMode::Container(_) = opts.network {
        return Err(bad(
            "--network",
            opts.network.as_str(),
            "a pod has a network of its own (none, host, bridge or a network's name)",
        ));
    }
    if !opts.share.net && (!opts.publish.is_empty() || opts.network != NetworkMode::None) {
        return Err(bad(
            "--share",
            &opts.share.names().join(","),
            "a pod's network and ports need its network namespace shared (add net)",
        ));
    }
    crate::network::validate(infra)?;
    let ports = crate::network::port_mappings(&infra.publish)?;
    if !ports.is_empty() {
        // A host port in use (by another pod, a container or any listener) is refused now,
        // and again when the infra starts.
        peapod_net::Firewall::check_ports(&peapod_net::Nftables::default(), &ports)?;
    }
    Ok(())
}
