//! The device rules a container's cgroup gets beyond its config: the default devices the
//! runtime creates (and may be used), and `linux.devices`, as runc allows them.

use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResources, Spec,
};

use crate::{Error, Result};

/// (type, major, minor, access): mknod of anything, then null, zero, full, random, urandom,
/// tty, ptmx, every pts, and tun.
const DEFAULT_ALLOWED: [(LinuxDeviceType, Option<i64>, Option<i64>, &str); 11] = [
    (LinuxDeviceType::C, None, None, "m"),
    (LinuxDeviceType::B, None, None, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"),
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"),
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"),
    (LinuxDeviceType::C, Some(136), None, "rwm"),
    (LinuxDeviceType::C, Some(10), Some(200), "rwm"),
];

/// The config's resources with the default and configured devices allowed after its own
/// device rules (later rules win). `None` when the config sets no resources at all.
pub(crate) fn resources_with_devices(spec: &Spec) -> Result<Option<LinuxResources>> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(None);
    };
    let Some(resources) = linux.resources().as_ref() else {
        return Ok(None);
    };
    let mut resources = resources.clone();
    let Some(rules) = resources.devices().clone() else {
        return Ok(Some(resources));
    };
    let mut rules: Vec<LinuxDeviceCgroup> = rules;
    for (typ, major, minor, access) in DEFAULT_ALLOWED {
        rules.push(rule(typ, major, minor, access)?);
    }
    for device in linux.devices().iter().flatten() {
        rules.push(rule(
            device.typ(),
            Some(device.major()),
            Some(device.minor()),
            "rwm",
        )?);
    }
    resources.set_devices(Some(rules));
    Ok(Some(resources))
}

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access);
    if let Some(major) = major {
        b = b.major(major);
    }
    if let Some(minor) = minor {
        b = b.minor(minor);
    }
    b.build().map_err(|e| Error::Sys {
        what: format!("describe a device rule: {e}"),
        source: nix::Error::EINVAL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_configs_own_rules() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
        .unwrap();
        let rules = resources_with_devices(&spec)
            .unwrap()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        assert_eq!(rules.len(), 1 + DEFAULT_ALLOWED.len() + 1);
        assert!(!rules[0].allow());
        assert!(rules[3].allow() && rules[3].major() == Some(1) && rules[3].minor() == Some(3));
        assert_eq!(
            (rules[12].major(), rules[12].minor()),
            (Some(10), Some(229))
        );
    }

    #[test]
    fn no_device_rules_means_none_are_added() {
        let spec: Spec = serde_json::from_value(
            serde_json::json!({"ociVersion": "1.2.0", "linux": {"resources": {}}}),
        )
        .unwrap();
        assert!(
            resources_with_devices(&spec)
                .unwrap()
                .unwrap()
                .devices()
                .is_none()
        );
    }
}
