//! `kube play`, `kube down` and `kube generate`'s plan, on the pod API: a [`KubePod`] becomes
//! a pod on the default network mode (its hostPorts published at the pod level, on the
//! default network unless the default mode is a bridge network already), its emptyDir
//! volumes, its init containers run to completion one after another (and removed once they
//! succeeded, as Kubernetes runs them once per pod start), and its containers.

use crate::Engine;
use crate::container::{CreateOptions, MountSpec, NetworkMode, RestartPolicy};
use crate::error::{Error, Result};
use crate::kube::{
    KubePlayOptions, KubePlayReport, KubePod, KubeRestartPolicy, KubeVolume, POD_LABEL, PlayedPod,
};
use crate::pod::PodCreateOptions;

impl Engine {
    /// `kube play`: makes (and by default starts) each planned pod, its emptyDir volumes and
    /// its containers; all or nothing (a failure removes what this call made).
    ///
    /// # Errors
    /// [`Error::PodNameInUse`] (unless `replace`), an init container that exits non-zero
    /// ([`Error::Monitor`] naming it and its code), and the create/start errors of the pods
    /// and containers.
    pub fn kube_play(&self, pods: &[KubePod], opts: &KubePlayOptions) -> Result<KubePlayReport> {
        if opts.replace {
            self.kube_down(pods)?;
        }
        let mut report = KubePlayReport::default();
        for (n, kp) in pods.iter().enumerate() {
            match self.play_one(kp, opts) {
                Ok(played) => report.pods.push(played),
                Err(e) => {
                    let _ = self.kube_down(&pods[..n]);
                    return Err(e);
                }
            }
        }
        Ok(report)
    }

    fn play_one(&self, kp: &KubePod, opts: &KubePlayOptions) -> Result<PlayedPod> {
        // The default network mode, as for `pod create`; hostPorts need a bridge.
        let network = match self.default_network_mode() {
            NetworkMode::Bridge(n) => NetworkMode::Bridge(n),
            other if kp.ports.is_empty() => other,
            _ => NetworkMode::Bridge(crate::network::DEFAULT_NETWORK.into()),
        };
        let pod_opts = PodCreateOptions {
            name: Some(kp.name.clone()),
            hostname: kp.hostname.clone(),
            labels: kp.labels.clone(),
            network,
            publish: kp.ports.clone(),
            cgroup_parent: opts.cgroup_parent.clone(),
            kube_volumes: kp.volumes.clone(),
            ..PodCreateOptions::default()
        };
        let pod = self.pods().create(&pod_opts)?;
        let made = (|| -> Result<Vec<String>> {
            self.kube_prepare_volumes(kp)?;
            let mut ids = Vec::new();
            let containers = self.containers();
            let in_pod = |c: &CreateOptions| CreateOptions {
                pod: Some(pod.id.clone()),
                ..c.clone()
            };
            if opts.start {
                for init in &kp.init_containers {
                    let record = containers.create(&in_pod(init))?;
                    ids.push(record.id.clone());
                    containers.start(&record.id, false)?;
                    let code = containers.wait(&record.id)?;
                    if code != 0 {
                        return Err(Error::Monitor {
                            name: record.name,
                            why: format!("the init container exited with code {code}"),
                        });
                    }
                    containers.remove(&record.id, false, false)?;
                }
            }
            for c in &kp.containers {
                let record = containers.create(&in_pod(c))?;
                ids.push(record.id.clone());
            }
            if opts.start {
                self.pods().start(&pod.id).and_then(|(_, results)| {
                    match results
                        .into_iter()
                        .find_map(|(name, e)| e.map(|e| (name, e)))
                    {
                        Some((name, why)) => Err(Error::Monitor { name, why }),
                        None => Ok(()),
                    }
                })?;
            }
            Ok(ids)
        })();
        match made {
            Ok(containers) => Ok(PlayedPod {
                name: pod.name,
                id: pod.id,
                containers,
            }),
            Err(e) => {
                let _ = self.pods().remove(&pod.id, true);
                let _ = self.kube_remove_volumes(kp);
                Err(e)
            }
        }
    }

    /// `kube down`: stops and removes the planned pods (by name), their containers and
    /// their emptyDir volumes; pods that are not there are skipped. Returns the names of
    /// the pods removed.
    ///
    /// # Errors
    /// A pod's or volume's removal error.
    pub fn kube_down(&self, pods: &[KubePod]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for kp in pods {
            if self.pods().exists(&kp.name)? {
                self.pods().remove(&kp.name, true)?;
                removed.push(kp.name.clone());
            }
            self.kube_remove_volumes(kp)?;
        }
        Ok(removed)
    }

    /// `kube generate`: the plan of an existing pod (name, hostname, labels, ports, restart
    /// policy, the volumes of the manifest it was played from and its emptyDir volumes, its
    /// containers' create options, probes and manifest text), for `peapod_kube::generate`.
    /// Init containers are not in it (they ran and went).
    ///
    /// # Errors
    /// [`Error::NoSuchPod`], database errors.
    pub fn kube_plan(&self, key: &str) -> Result<KubePod> {
        let pods = self.pods();
        let pod = pods.get(key)?;
        // The manifest's volumes (names, hostPath types), then the pod's emptyDir volumes
        // that its members mount and that are not among them.
        let mut volumes: Vec<KubeVolume> = pod.config.kube_volumes.clone();
        let mut containers = Vec::new();
        for member in pods.members(&pod)? {
            if member.config.infra {
                continue;
            }
            for m in &member.config.mounts {
                if let MountSpec::Volume {
                    name: Some(volume), ..
                } = m
                {
                    let ours = self
                        .volumes()
                        .inspect(volume)
                        .is_ok_and(|v| v.labels.get(POD_LABEL) == Some(&pod.name));
                    let known = volumes.iter().any(
                        |v| matches!(v, KubeVolume::EmptyDir { volume: n, .. } if n == volume),
                    );
                    if ours && !known {
                        let prefix = format!("{}-", pod.name);
                        volumes.push(KubeVolume::EmptyDir {
                            name: volume.strip_prefix(&prefix).unwrap_or(volume).to_owned(),
                            volume: volume.clone(),
                        });
                    }
                }
            }
            containers.push(CreateOptions {
                name: Some(member.name.clone()),
                pod: None,
                cgroup_parent: None,
                ..member.config
            });
        }
        Ok(KubePod {
            name: pod.name.clone(),
            hostname: (pod.hostname() != pod.name).then(|| pod.hostname().to_owned()),
            labels: pod.config.labels.clone(),
            ports: pod.config.publish.clone(),
            // Each container carries the pod's policy (`peapod-kube` gives it to them).
            restart_policy: match containers.first().map(CreateOptions::restart_policy) {
                Some(RestartPolicy::OnFailure { .. }) => KubeRestartPolicy::OnFailure,
                Some(RestartPolicy::No) => KubeRestartPolicy::Never,
                _ => KubeRestartPolicy::Always,
            },
            volumes,
            init_containers: Vec::new(),
            containers,
        })
    }
}
