//! `create`: a container record, its root filesystem (the image's layers under an upper
//! directory), its volumes and its bundle. Validated before anything is written; on any
//! failure after that, everything made is undone (row, mount, directories, new volumes).

use std::path::PathBuf;

use serde_json::json;

use super::bundle::{self, ResolvedVolume};
use super::{ContainerRecord, Containers, CreateOptions, MountSpec, names};
use crate::error::{Error, Result};
use crate::rootfs::ContainerRootfs;
use crate::spec::{self, ImageConfig};

/// The cgroup every container's own cgroup goes under, unless `--cgroup-parent` says.
pub const DEFAULT_CGROUP_PARENT: &str = "/peapod";

impl Containers<'_> {
    /// `create`: makes the container (state `created`) from an image already in the store
    /// (pull it first: [`crate::Engine::images`]).
    ///
    /// # Errors
    /// [`Error::Image`] for an unknown image, [`Error::InvalidFlag`] for a bad option (a
    /// missing bind source…), [`Error::NameInUse`], [`Error::InvalidName`], and I/O,
    /// mount and database errors; none leaves anything behind.
    pub fn create(&self, opts: &CreateOptions) -> Result<ContainerRecord> {
        let engine = self.engine;
        let image = engine.images.resolve(&opts.image)?;
        let doc = engine.images.config(&image)?;
        let image_config = ImageConfig::from_image_config(&doc)
            .map_err(Error::json(format!("the config of image {}", opts.image)))?;
        let mut opts = opts.clone();
        let pod = crate::pod::member::prepare(engine, &mut opts)?;
        opts.restart.get_or_insert_default();
        let opts = &opts;
        validate(opts)?;
        crate::network::validate(opts)?;
        let with_ports = crate::network::publish_exposed(opts, &image_config.exposed_ports)?;
        let opts = with_ports.as_ref().unwrap_or(opts);
        if let super::NetworkMode::Container(target) = &opts.network {
            self.get(target)?;
        }
        spec::process_args(&image_config, &opts.config)?;
        let capabilities = spec::capabilities(&opts.config)?;
        let id = names::new_id()?;
        let mut record = ContainerRecord::new(
            id.clone(),
            image.id.to_string(),
            opts.image.clone(),
            opts.clone(),
        );
        self.insert_named(&mut record)?;
        super::pause_point("create:row");
        let mut new_volumes = Vec::new();
        let built = self.build(
            &record,
            pod.as_ref(),
            &image,
            &image_config,
            &capabilities,
            &mut new_volumes,
        );
        match built {
            Ok(config) => {
                record.config = config;
                crate::events::record(engine, "create", &record);
                Ok(record)
            }
            Err(e) => {
                let paths = engine.paths(&id);
                let _ = ContainerRootfs::at(&paths.dir).remove();
                let _ = engine.db.delete_container(&id);
                for v in new_volumes {
                    let _ = engine.volumes().remove(&v);
                }
                Err(e)
            }
        }
    }

    /// Inserts the row, with the name asked for or a generated one.
    fn insert_named(&self, record: &mut ContainerRecord) -> Result<()> {
        if let Some(name) = &record.config.name {
            record.name = names::validate(name)?.to_owned();
            return self.engine.db.insert_container(record);
        }
        for attempt in 0..16 {
            record.name = names::generate(attempt)?;
            match self.engine.db.insert_container(record) {
                Err(Error::NameInUse { .. }) => {}
                other => return other,
            }
        }
        record.name = record.id.clone();
        self.engine.db.insert_container(record)
    }

    /// The filesystem side of `create`; returns the options as stored (anonymous volumes
    /// named). Volumes it made are pushed to `new_volumes`, for the caller to undo.
    fn build(
        &self,
        record: &ContainerRecord,
        pod: Option<&crate::pod::PodRecord>,
        image: &peapod_image::store::ImageRecord,
        image_config: &ImageConfig,
        capabilities: &[String],
        new_volumes: &mut Vec<String>,
    ) -> Result<CreateOptions> {
        let engine = self.engine;
        let mut opts = record.config.clone();
        if opts.stop_signal.is_none() && !image_config.stop_signal.is_empty() {
            opts.stop_signal = Some(image_config.stop_signal.clone());
        }
        opts.health = if opts.no_healthcheck {
            None
        } else {
            merge_health(image_config.healthcheck.as_ref(), opts.health.take())
        };
        let paths = engine.paths(&record.id);
        let rootfs = ContainerRootfs::at(&paths.dir);
        rootfs.create()?;
        let layers: Vec<PathBuf> = image
            .layers
            .iter()
            .map(|l| engine.images.store().layer_path(&l.chain_id))
            .collect();
        let merged = rootfs.mount(&layers)?;
        super::pause_point("create:mounted");
        let passwd = rootfs
            .read_file("/etc/passwd", 1 << 20)?
            .unwrap_or_default();
        let group = rootfs.read_file("/etc/group", 1 << 20)?.unwrap_or_default();
        let user_spec = opts
            .config
            .user
            .clone()
            .unwrap_or_else(|| image_config.user.clone());
        let user = spec::resolve_user(&user_spec, &passwd, &group)?;
        let hostname = opts
            .config
            .hostname
            .clone()
            .or_else(|| {
                pod.and_then(crate::pod::member::hostname)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| record.short_id().to_owned());
        // An image's VOLUME not covered by a mount of the operator's is an anonymous volume.
        for dest in image_config.volumes.keys() {
            if !opts.mounts.iter().any(|m| m.destination() == dest) {
                opts.mounts.push(MountSpec::Volume {
                    name: None,
                    destination: dest.clone(),
                    readonly: false,
                });
            }
        }
        let mut volumes = Vec::new();
        let mut links = Vec::new();
        for m in &mut opts.mounts {
            if let MountSpec::Volume {
                name,
                destination,
                readonly,
            } = m
            {
                let anonymous = name.is_none();
                let volume_name = match name {
                    Some(n) => n.clone(),
                    None => names::new_id()?,
                };
                let (report, created) =
                    engine
                        .volumes()
                        .ensure(&volume_name, &Default::default(), anonymous)?;
                if created {
                    new_volumes.push(volume_name.clone());
                }
                *name = Some(volume_name.clone());
                links.push((volume_name, destination.clone()));
                volumes.push(ResolvedVolume {
                    destination: destination.clone(),
                    dir: report.mountpoint,
                    readonly: *readonly,
                });
            }
        }
        engine.db.link_volumes(&record.id, &links)?;
        let cgroups_path = super::cgroup_path_of(&opts, &record.id);
        let built = spec::build_spec(
            image_config,
            &opts.config,
            &user,
            &hostname,
            &merged,
            &cgroups_path,
        )?;
        let mut config = serde_json::to_value(&built).map_err(Error::json("config.json"))?;
        let address = self.allocate_address(record)?;
        bundle::write_etc_files(
            &paths.dir,
            &hostname,
            &record.name,
            &opts,
            address.first().copied(),
        )?;
        let netns = crate::network::netns_path(&engine.runroot, &record.id);
        bundle::complete(
            &mut config,
            &opts,
            &paths.dir,
            &volumes,
            capabilities,
            &netns,
        )?;
        if let Some(pod) = pod {
            crate::pod::member::join_spec(engine, pod, &paths.dir, &mut config);
        }
        config["annotations"] = json!({
            "io.peapod.name": record.name,
            "io.peapod.image": record.image_name,
        });
        super::pause_point("create:config");
        let text = serde_json::to_vec_pretty(&config).map_err(Error::json("config.json"))?;
        let path = paths.dir.join("config.json");
        let tmp = paths.dir.join(".config.json.tmp");
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))?;
        let stored = serde_json::to_string(&opts).map_err(Error::json("a container's options"))?;
        engine.db.set_config(&record.id, &stored)?;
        if let super::NetworkMode::Bridge(network) = &opts.network {
            crate::network::refresh_hosts(engine, network)?;
        }
        Ok(opts)
    }
}

/// The operator's `--health-*` over the image's HEALTHCHECK (a field not given is the
/// image's); `NONE` or no test at all: no healthcheck.
fn merge_health(
    image: Option<&spec::ImageHealthcheck>,
    flags: Option<super::HealthConfig>,
) -> Option<super::HealthConfig> {
    let nonzero = |n: u64| (n > 0).then_some(n);
    let mut merged = image.map_or_else(super::HealthConfig::default, |i| super::HealthConfig {
        test: i.test.clone(),
        interval: nonzero(i.interval),
        timeout: nonzero(i.timeout),
        retries: (i.retries > 0).then_some(i.retries),
        start_period: nonzero(i.start_period),
    });
    if let Some(f) = flags {
        if !f.test.is_empty() {
            merged.test = f.test;
        }
        merged.interval = f.interval.or(merged.interval);
        merged.timeout = f.timeout.or(merged.timeout);
        merged.retries = f.retries.or(merged.retries);
        merged.start_period = f.start_period.or(merged.start_period);
    }
    crate::monitor::health_command(&merged.test).map(|_| merged)
}

/// What can be checked before anything is written.
fn validate(opts: &CreateOptions) -> Result<()> {
    for m in &opts.mounts {
        if let MountSpec::Bind { source, .. } = m
            && std::fs::symlink_metadata(source).is_err()
        {
            return Err(Error::InvalidFlag {
                flag: "--volume",
                value: source.clone(),
                why: "the host path does not exist".into(),
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for m in &opts.mounts {
        if !seen.insert(m.destination()) {
            return Err(Error::InvalidFlag {
                flag: "--volume",
                value: m.destination().to_owned(),
                why: "duplicate mount point".into(),
            });
        }
    }
    if let Some(runtime) = &opts.runtime {
        super::lifecycle::check_runtime(runtime)?;
    }
    if let Some(w) = &opts.config.workdir
        && !w.starts_with('/')
    {
        return Err(spec::SpecError::Workdir(w.clone()).into());
    }
    if let Some(m) = opts.resources.memory
        && m < 6 << 20
    {
        return Err(Error::InvalidFlag {
            flag: "--memory",
            value: m.to_string(),
            why: "the minimum memory limit allowed is 6 MiB".into(),
        });
    }
    if let (Some(m), Some(s)) = (opts.resources.memory, opts.resources.memory_swap)
        && s != -1
        && s < m
    {
        return Err(Error::InvalidFlag {
            flag: "--memory-swap",
            value: s.to_string(),
            why: "it must be at least the memory limit (it counts memory plus swap), or -1".into(),
        });
    }
    if opts.resources.memory_swap.is_some() && opts.resources.memory.is_none() {
        return Err(Error::InvalidFlag {
            flag: "--memory-swap",
            value: String::new(),
            why: "it needs --memory too".into(),
        });
    }
    Ok(())
}
