//! OCI device rules: checked, turned into v1 `devices.allow`/`devices.deny` writes, or reduced
//! to the effective rule list a v2 eBPF filter evaluates.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::plan::{FileWrite, R, invalid};
use crate::error::Result;

pub(crate) const ACC_MKNOD: u32 = 1;
pub(crate) const ACC_READ: u32 = 2;
pub(crate) const ACC_WRITE: u32 = 4;
pub(crate) const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which device nodes a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    All,
    Char,
    Block,
}

/// One device rule in kernel terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) allow: bool,
    pub(crate) kind: Kind,
    /// `None` is the wildcard `*`.
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
    /// `ACC_*` bits.
    pub(crate) access: u32,
}

impl Rule {
    fn matches_everything(&self) -> bool {
        self.kind == Kind::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    fn access_str(&self) -> String {
        let mut s = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                s.push(c);
            }
        }
        s
    }

    fn v1_line(&self, kind: char) -> String {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_owned(), |v| v.to_string());
        format!(
            "{kind} {}:{} {}",
            n(self.major),
            n(self.minor),
            self.access_str()
        )
    }
}

/// Checks the OCI rules. FIFO (`p`) rules are dropped: the device cgroup mediates only
/// character and block devices, so they can neither grant nor deny anything.
pub(crate) fn parse(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let setting = format!("{R}.devices");
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let s = format!("{setting}[{i}]");
        let kind = match r.typ().unwrap_or_default() {
            LinuxDeviceType::A => Kind::All,
            LinuxDeviceType::C | LinuxDeviceType::U => Kind::Char,
            LinuxDeviceType::B => Kind::Block,
            LinuxDeviceType::P => continue,
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                    invalid(
                        &format!("{s}.{what}"),
                        n,
                        "a device number is 0..=4294967295, or -1 for any",
                    )
                }),
            }
        };
        let mut access = 0;
        let acc = r.access().as_deref().unwrap_or("");
        for c in acc.chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => {
                    return Err(invalid(
                        &format!("{s}.access"),
                        format!("{acc:?}"),
                        "expected letters of \"rwm\"",
                    ));
                }
            };
        }
        if access == 0 {
            access = ACC_ALL;
        }
        out.push(Rule {
            allow: r.allow(),
            kind,
            major: num(r.major(), "major")?,
            minor: num(r.minor(), "minor")?,
            access,
        });
    }
    Ok(out)
}

/// v1: one write per rule, in order, to `devices.allow` or `devices.deny`.
pub(crate) fn v1_writes(rules: &[Rule]) -> Vec<FileWrite> {
    let setting = format!("{R}.devices");
    let mut out = Vec::new();
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let lines = match r.kind {
            Kind::All if r.matches_everything() => vec!["a".to_owned()],
            Kind::All => vec![r.v1_line('c'), r.v1_line('b')],
            Kind::Char => vec![r.v1_line('c')],
            Kind::Block => vec![r.v1_line('b')],
        };
        out.extend(lines.into_iter().map(|l| FileWrite::new(&setting, file, l)));
    }
    out
}

/// v2: what the rules mean as "default, then exceptions where the last match wins", the way
/// the v1 kernel reads them. A fresh cgroup allows everything; a rule matching everything
/// (`a *:* rwm`) sets the default and drops the exceptions before it.
pub(crate) fn effective(rules: &[Rule]) -> (bool, Vec<Rule>) {
    let mut default_allow = true;
    let mut exceptions = Vec::new();
    for r in rules {
        if r.matches_everything() {
            default_allow = r.allow;
            exceptions.clear();
        } else {
            exceptions.push(*r);
        }
    }
    (default_allow, exceptions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(t)
            .access(acc);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    fn typical() -> Vec<LinuxDeviceCgroup> {
        vec![
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            rule(true, LinuxDeviceType::C, Some(136), None, "rw"),
            rule(false, LinuxDeviceType::B, Some(8), Some(-1), "m"),
            rule(true, LinuxDeviceType::A, Some(10), Some(200), ""),
            rule(true, LinuxDeviceType::P, None, None, "rwm"),
        ]
    }

    #[test]
    fn v1_lines_in_order() {
        let w = v1_writes(&parse(&typical()).unwrap());
        let got: Vec<(&str, &str)> = w
            .iter()
            .map(|w| (w.file.as_str(), w.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("devices.deny", "a"),
                ("devices.allow", "c 1:3 rwm"),
                ("devices.allow", "c 136:* rw"),
                ("devices.deny", "b 8:* m"),
                ("devices.allow", "c 10:200 rwm"),
                ("devices.allow", "b 10:200 rwm"),
            ]
        );
    }

    #[test]
    fn effective_rules_start_from_the_last_catch_all() {
        let (allow, ex) = effective(&parse(&typical()).unwrap());
        assert!(!allow);
        assert_eq!(ex.len(), 4);
        assert_eq!(ex[0].major, Some(1));
        let (allow, ex) = effective(&[]);
        assert!(allow && ex.is_empty());
    }

    #[test]
    fn bad_rules_are_refused() {
        let e = parse(&[rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwx")]).unwrap_err();
        assert!(e.to_string().contains("devices[0].access"), "{e}");
        let e = parse(&[rule(true, LinuxDeviceType::C, Some(-5), Some(3), "r")]).unwrap_err();
        assert!(e.to_string().contains("devices[0].major"), "{e}");
    }
}
