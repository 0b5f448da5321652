//! `generate`: the plan back as a manifest, which parses to the same plan; the manifest's own
//! text and volume names when the records keep them.

use peapod_engine::container::{MountSpec, Probe, ProbeAction, RestartPolicy};
use peapod_engine::kube::{KubePod, KubeVolume};

use super::{FULL, one};
use crate::generate;

fn json(pod: &KubePod) -> serde_json::Value {
    serde_json::to_value(pod).unwrap()
}

#[test]
fn generate_then_parse_gives_the_plan_back() {
    let pod = one(FULL);
    let generated = generate(&pod).unwrap();
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    let again = one(&generated.yaml);
    assert_eq!(json(&again), json(&pod), "{}", generated.yaml);
    // And once more: the text is stable.
    assert_eq!(generate(&again).unwrap().yaml, generated.yaml);
    // Written as the file had it: `$(VAR)` unexpanded, the volumes' names and types.
    for part in [
        "- -p\n    - $(PORT)\n",
        "- $$(PORT)\n",
        "value: http://localhost:$(PORT)/\n",
        "  - hostPath:\n      path: /srv/data\n      type: DirectoryOrCreate\n    name: data\n",
        "  - emptyDir: {}\n    name: scratch\n",
    ] {
        assert!(
            generated.yaml.contains(part),
            "{part:?}: {}",
            generated.yaml
        );
    }
    assert!(
        generated.yaml.starts_with("apiVersion: v1\nkind: Pod\n"),
        "{}",
        generated.yaml
    );
}

#[test]
fn generate_from_records_says_what_it_leaves_out() {
    let mut opts = peapod_engine::container::CreateOptions {
        image: "busybox".into(),
        name: Some("other-name".into()),
        ..Default::default()
    };
    opts.config.cmd = vec!["sh".into(), "-c".into(), "echo $(date)".into()];
    opts.config.user = Some("nobody".into());
    opts.resources.pids_limit = Some(10);
    opts.resources.cpu_shares = Some(1024);
    opts.mounts.push(MountSpec::Bind {
        source: "/etc".into(),
        destination: "/host-etc".into(),
        readonly: true,
    });
    opts.mounts.push(MountSpec::Tmpfs {
        destination: "/run".into(),
        options: vec![],
    });
    opts.probes.readiness = Some(Probe::new(ProbeAction::HttpGet {
        host: Some("127.0.0.1".into()),
        port: 80,
        path: "/".into(),
        headers: vec![],
    }));
    opts.restart = Some(RestartPolicy::Always);
    let pod = KubePod {
        name: "recorded".into(),
        ports: vec!["0.0.0.0:8080:80".into()],
        containers: vec![opts],
        ..KubePod::default()
    };
    let generated = generate(&pod).unwrap();
    let warnings = generated.warnings.join("\n");
    assert!(warnings.contains("a pids limit"), "{warnings}");
    assert!(warnings.contains("user \"nobody\""), "{warnings}");
    assert!(warnings.contains("the mount on /run"), "{warnings}");
    let back = one(&generated.yaml);
    let c = &back.containers[0];
    // A name without the pod's prefix gets it on the way back (as podman's).
    assert_eq!(c.name.as_deref(), Some("recorded-other-name"));
    assert_eq!(c.config.cmd, ["sh", "-c", "echo $(date)"]);
    assert_eq!(c.resources.cpu_shares, Some(1024));
    assert_eq!(back.ports, ["0.0.0.0:8080:80/tcp"]);
    assert!(matches!(&back.volumes[..], [KubeVolume::HostPath { path, .. }] if path == "/etc"));
    assert_eq!(c.mounts.len(), 1);
    assert_eq!(c.probes.readiness, pod.containers[0].probes.readiness);
    let range = KubePod {
        ports: vec!["8000-8001:80-81".into()],
        ..pod
    };
    let err = generate(&range).unwrap_err().to_string();
    assert!(err.contains("published port \"8000-8001:80-81\""), "{err}");
}

/// A plan as `kube_plan` reads it from a played pod's records: its containers' options are
/// what the translation made, the manifest's text and volumes kept with them.
#[test]
fn generate_writes_the_manifests_text_only_while_it_still_holds() {
    let mut pod = one(FULL);
    pod.init_containers.clear();
    // A member that `peapod run --pod` added: no manifest behind it.
    let mut plain = peapod_engine::container::CreateOptions {
        image: "busybox".into(),
        name: Some("web-plain".into()),
        ..Default::default()
    };
    plain.config.cmd = vec!["echo".into(), "$(PORT)".into()];
    plain.config.env = vec!["A=$(B)".into()];
    plain.mounts.push(MountSpec::Bind {
        source: "/srv/other".into(),
        destination: "/other".into(),
        readonly: false,
    });
    plain.restart = Some(RestartPolicy::OnFailure { max: 0 });
    plain.stop_timeout = Some(5);
    pod.containers.push(plain);
    // The client's recorded text no longer gives what it runs (its options changed): its
    // options are written.
    pod.containers[1].config.cmd = vec!["sleep".into(), "$(X)".into()];
    pod.containers[1].config.env = vec!["X=1".into()];
    let generated = generate(&pod).unwrap();
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    let yaml = &generated.yaml;
    for part in [
        "- $(PORT)\n",
        "value: http://localhost:$(PORT)/\n",
        "type: DirectoryOrCreate\n    name: data\n",
        "name: scratch\n",
        // The plain member's bind gets a made-up name, its text escaped.
        "  - hostPath:\n      path: /srv/other\n    name: plain-bind-2\n",
        "  - echo\n    - $$(PORT)\n",
        "value: $$(B)\n",
        "  - sleep\n    - $$(X)\n",
    ] {
        assert!(yaml.contains(part), "{part:?}: {yaml}");
    }
    let back = one(yaml);
    let [httpd, client, plain] = back.containers.as_slice() else {
        panic!("{yaml}")
    };
    assert_eq!(httpd.config, pod.containers[0].config);
    assert_eq!(httpd.kube, pod.containers[0].kube);
    assert_eq!(client.config.cmd, ["sleep", "$(X)"]);
    assert_eq!(plain.config.cmd, ["echo", "$(PORT)"]);
    assert_eq!(plain.config.env, ["A=$(B)"]);
    assert_eq!(back.volumes[..2], pod.volumes[..]);
}

#[test]
fn two_host_path_volumes_of_one_path_keep_their_mounts() {
    let yaml = "apiVersion: v1
kind: Pod
metadata: {name: twin}
spec:
  volumes:
  - {name: any, hostPath: {path: /srv}}
  - {name: dir, hostPath: {path: /srv, type: Directory}}
  - {name: unused, hostPath: {path: /opt, type: DirectoryOrCreate}}
  containers:
  - name: c
    image: busybox
    volumeMounts:
    - {name: dir, mountPath: /a}
    - {name: any, mountPath: /b}
";
    let pod = one(yaml);
    let generated = generate(&pod).unwrap().yaml;
    for part in [
        "  - mountPath: /a\n      name: dir\n    - mountPath: /b\n      name: any\n",
        "type: DirectoryOrCreate\n    name: unused\n",
    ] {
        assert!(generated.contains(part), "{part:?}: {generated}");
    }
    assert_eq!(json(&one(&generated)), json(&pod), "{generated}");
}
