//! OCI mount options (`mounts[].options`) and `linux.rootfsPropagation`, parsed into mount
//! flags, propagation changes and filesystem data.
//!
//! The rules: a known flag word (`ro`, `nosuid`, `rbind`, `rprivate`, `rro`, …) becomes a
//! flag; `key=value` is filesystem data (`mode=755`, `size=65536k`) that the filesystem itself
//! validates; a bare word is data only if it is a known filesystem flag (`newinstance`, …);
//! `x-…` words are userspace-only (fstab style) and ignored; anything else is an error, so a
//! typo never passes silently.

use std::path::Path;

use nix::mount::MsFlags;

use crate::error::{Error, Result};

/// A parsed `mounts[].options` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set on the mount (`MS_RDONLY`, `MS_NOSUID`, …), plus `MS_BIND` for `bind`
    /// and `MS_BIND | MS_REC` for `rbind`. They apply to the top mount only.
    pub flags: MsFlags,
    /// Flags the options explicitly clear (`rw`, `suid`, `dev`, `exec`, …).
    pub clear: MsFlags,
    /// Propagation changes in the order given: `MS_PRIVATE`, `MS_SHARED | MS_REC`, ….
    pub propagation: Vec<MsFlags>,
    /// Flags to set on every mount of the tree (`rro`, `rnosuid`, …, as `MS_*` values).
    pub recursive_flags: MsFlags,
    /// Flags to clear on every mount of the tree (`rrw`, `rsuid`, …).
    pub recursive_clear: MsFlags,
    /// Filesystem-specific options in order (`mode=755`, `newinstance`).
    pub data: Vec<String>,
    /// `tmpcopyup` (runc's and crun's extension, which podman sends): a tmpfs starts with a
    /// copy of what the rootfs has at its destination.
    pub copy_up: bool,
}

/// Why an option word was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Unknown,
    Unsupported(&'static str),
}

fn nosymfollow() -> MsFlags {
    MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)
}

/// `(word, flag, sets)`: a plain flag word; `sets == false` means the word clears the flag.
fn flag_word(word: &str) -> Option<(MsFlags, bool)> {
    Some(match word {
        "ro" => (MsFlags::MS_RDONLY, true),
        "rw" => (MsFlags::MS_RDONLY, false),
        "nosuid" => (MsFlags::MS_NOSUID, true),
        "suid" => (MsFlags::MS_NOSUID, false),
        "nodev" => (MsFlags::MS_NODEV, true),
        "dev" => (MsFlags::MS_NODEV, false),
        "noexec" => (MsFlags::MS_NOEXEC, true),
        "exec" => (MsFlags::MS_NOEXEC, false),
        "sync" => (MsFlags::MS_SYNCHRONOUS, true),
        "async" => (MsFlags::MS_SYNCHRONOUS, false),
        "dirsync" => (MsFlags::MS_DIRSYNC, true),
        "mand" => (MsFlags::MS_MANDLOCK, true),
        "nomand" => (MsFlags::MS_MANDLOCK, false),
        "noatime" => (MsFlags::MS_NOATIME, true),
        "atime" => (MsFlags::MS_NOATIME, false),
        "nodiratime" => (MsFlags::MS_NODIRATIME, true),
        "diratime" => (MsFlags::MS_NODIRATIME, false),
        "relatime" => (MsFlags::MS_RELATIME, true),
        "norelatime" => (MsFlags::MS_RELATIME, false),
        "strictatime" => (MsFlags::MS_STRICTATIME, true),
        "nostrictatime" => (MsFlags::MS_STRICTATIME, false),
        "lazytime" => (MsFlags::MS_LAZYTIME, true),
        "nolazytime" => (MsFlags::MS_LAZYTIME, false),
        "nosymfollow" => (nosymfollow(), true),
        "symfollow" => (nosymfollow(), false),
        "silent" => (MsFlags::MS_SILENT, true),
        "loud" => (MsFlags::MS_SILENT, false),
        "iversion" => (MsFlags::MS_I_VERSION, true),
        "noiversion" => (MsFlags::MS_I_VERSION, false),
        "bind" => (MsFlags::MS_BIND, true),
        "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, true),
        _ => return None,
    })
}

/// A propagation word (`private`, `rshared`, …) as the `MS_*` flags `mount(2)` takes.
pub fn parse_propagation(word: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match word {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// Bare words that are filesystem data, not mount flags (devpts, tmpfs, overlay, cgroup2, ext4).
const DATA_FLAGS: &[&str] = &[
    "newinstance",
    "inode64",
    "inode32",
    "noswap",
    "userxattr",
    "volatile",
    "nsdelegate",
    "memory_recursiveprot",
    "favordynmods",
    "user_xattr",
    "nouser_xattr",
    "acl",
    "noacl",
];

impl MountOptions {
    /// Parses the options of the mount on `destination` (named in errors).
    ///
    /// ```
    /// use nix::mount::MsFlags;
    /// use peapod_rootfs::MountOptions;
    /// let o = MountOptions::parse("/dev".as_ref(), &["nosuid", "strictatime", "mode=755"]).unwrap();
    /// assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
    /// assert_eq!(o.data_string(), "mode=755");
    /// ```
    pub fn parse<S: AsRef<str>>(destination: &Path, options: &[S]) -> Result<Self> {
        let mut o = Self {
            flags: MsFlags::empty(),
            clear: MsFlags::empty(),
            propagation: Vec::new(),
            recursive_flags: MsFlags::empty(),
            recursive_clear: MsFlags::empty(),
            data: Vec::new(),
            copy_up: false,
        };
        for option in options {
            let option = option.as_ref();
            match o.add(option) {
                Ok(()) => {}
                Err(Refusal::Unknown) => {
                    return Err(Error::UnknownOption {
                        destination: destination.to_path_buf(),
                        option: option.to_owned(),
                    });
                }
                Err(Refusal::Unsupported(what)) => {
                    return Err(Error::Unsupported {
                        destination: destination.to_path_buf(),
                        what,
                    });
                }
            }
        }
        Ok(o)
    }

    fn add(&mut self, word: &str) -> std::result::Result<(), Refusal> {
        if let Some((flag, sets)) = flag_word(word) {
            set_or_clear(&mut self.flags, &mut self.clear, flag, sets);
        } else if let Some(flags) = parse_propagation(word) {
            self.propagation.push(flags);
        } else if let Some((flag, sets)) = word.strip_prefix('r').and_then(flag_word) {
            // `rro`, `rnosuid`, … (recursive, mount_setattr(AT_RECURSIVE) semantics).
            if flag.contains(MsFlags::MS_BIND) {
                return Err(Refusal::Unknown);
            }
            set_or_clear(
                &mut self.recursive_flags,
                &mut self.recursive_clear,
                flag,
                sets,
            );
        } else if matches!(word, "idmap" | "ridmap") {
            // runc 1.1 passes it on as data, which a bind ignores: refused here instead,
            // since the files would then show their owners unmapped.
            return Err(Refusal::Unsupported(
                "an idmapped mount (idmap, ridmap: ignoring it, as runc 1.1 does, would show \
                 the source's owners unmapped)",
            ));
        } else if word == "tmpcopyup" {
            self.copy_up = true;
        } else if word.contains('=') || DATA_FLAGS.contains(&word) {
            if word.starts_with('=') {
                return Err(Refusal::Unknown);
            }
            self.data.push(word.to_owned());
        } else if word.starts_with("x-") || word == "defaults" {
            // userspace-only options (fstab style); nothing to do
        } else {
            return Err(Refusal::Unknown);
        }
        Ok(())
    }

    /// True for `bind` and `rbind`.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// True for `rbind`.
    pub fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The filesystem data as `mount(2)` takes it: `mode=755,size=65536k`.
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

fn set_or_clear(set: &mut MsFlags, clear: &mut MsFlags, flag: MsFlags, sets: bool) {
    if sets {
        set.insert(flag);
        clear.remove(flag);
    } else {
        clear.insert(flag);
        set.remove(flag);
    }
}

/// How `linux.rootfsPropagation` is applied. `/` is always made rslave first, so nothing the
/// container mounts reaches the host; then private and slave kinds are applied to `/` before
/// the rootfs is bound (so the rootfs and every bind source inherit them, as with runc),
/// unbindable kinds to the rootfs bind itself (a bind *from* an unbindable `/` would fail),
/// and shared kinds last, after pivot and the masked paths (a new peer group, still a slave
/// of the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RootPropagation {
    pub(crate) slash: Option<MsFlags>,
    pub(crate) rootfs: Option<MsFlags>,
    pub(crate) late: Option<MsFlags>,
}

pub(crate) fn root_propagation(value: Option<&str>) -> Result<RootPropagation> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(RootPropagation::default());
    };
    let flags = parse_propagation(value).ok_or_else(|| Error::Propagation(value.to_owned()))?;
    let mut p = RootPropagation::default();
    if flags.contains(MsFlags::MS_SHARED) {
        p.late = Some(flags);
    } else if flags.contains(MsFlags::MS_UNBINDABLE) {
        p.rootfs = Some(flags);
    } else {
        p.slash = Some(flags);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> MountOptions {
        MountOptions::parse(Path::new("/m"), options).unwrap()
    }

    #[test]
    fn flag_words_set_flags() {
        let o = parse(&["ro", "nosuid", "nodev", "noexec", "relatime"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC
                | MsFlags::MS_RELATIME
        );
        assert!(o.clear.is_empty() && o.data.is_empty() && o.propagation.is_empty());
        assert_eq!(parse(&["strictatime"]).flags, MsFlags::MS_STRICTATIME);
    }

    #[test]
    fn bind_and_rbind() {
        let bind = parse(&["bind"]);
        assert!(bind.is_bind() && !bind.is_recursive_bind());
        assert_eq!(bind.flags, MsFlags::MS_BIND);
        let rbind = parse(&["rbind", "ro"]);
        assert!(rbind.is_recursive_bind());
        assert_eq!(
            rbind.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
    }

    #[test]
    fn propagation_words_keep_their_order() {
        let o = parse(&["rprivate", "shared", "rslave", "runbindable"]);
        assert_eq!(
            o.propagation,
            vec![
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                MsFlags::MS_SHARED,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
            ]
        );
        assert_eq!(
            parse(&["rshared"]).propagation,
            vec![MsFlags::MS_SHARED | MsFlags::MS_REC]
        );
        assert!(o.flags.is_empty());
    }

    #[test]
    fn data_options_keep_their_order() {
        let o = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data_string(), "newinstance,ptmxmode=0666,mode=0620,gid=5");
        let tmpfs = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(tmpfs.data_string(), "mode=755,size=65536k");
    }

    #[test]
    fn later_words_win() {
        let o = parse(&["ro", "rw", "nosuid", "suid", "noexec"]);
        assert_eq!(o.flags, MsFlags::MS_NOEXEC);
        assert_eq!(o.clear, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        let o = parse(&["rw", "ro"]);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert!(o.clear.is_empty());
    }

    #[test]
    fn recursive_attribute_words() {
        let o = parse(&["rbind", "rro", "rnosuid", "rexec"]);
        assert_eq!(o.recursive_flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(o.recursive_clear, MsFlags::MS_NOEXEC);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    }

    #[test]
    fn tmpcopyup_is_a_copy_up_not_data() {
        let o = parse(&["nosuid", "tmpcopyup", "mode=755"]);
        assert!(o.copy_up);
        assert_eq!(o.data, ["mode=755"]);
        assert!(!parse(&["nosuid"]).copy_up);
    }

    #[test]
    fn userspace_words_are_ignored() {
        let o = parse(&["defaults", "x-systemd.automount", "nosymfollow"]);
        assert_eq!(o.flags, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW));
        assert!(o.data.is_empty());
    }

    #[test]
    fn unknown_words_are_errors_naming_the_mount() {
        for bad in ["bogus", "rbogus", "rrbind", "=x", "rbind2"] {
            let err = MountOptions::parse(Path::new("/data"), &[bad]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("mount on /data: unknown mount option {bad:?}")
            );
        }
        let err = MountOptions::parse(Path::new("/data"), &["idmap"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mount on /data: an idmapped mount (idmap, ridmap: ignoring it"),
            "{err}"
        );
    }

    #[test]
    fn root_propagation_splits_shared_to_the_end() {
        assert_eq!(root_propagation(None).unwrap(), RootPropagation::default());
        assert_eq!(
            root_propagation(Some("")).unwrap(),
            RootPropagation::default()
        );
        let p = root_propagation(Some("rprivate")).unwrap();
        assert_eq!(p.slash, Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        assert_eq!((p.rootfs, p.late), (None, None));
        let p = root_propagation(Some("slave")).unwrap();
        assert_eq!(p.slash, Some(MsFlags::MS_SLAVE));
        let p = root_propagation(Some("runbindable")).unwrap();
        assert_eq!(p.rootfs, Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC));
        assert_eq!((p.slash, p.late), (None, None));
        let p = root_propagation(Some("shared")).unwrap();
        assert_eq!(p.late, Some(MsFlags::MS_SHARED));
        assert_eq!((p.slash, p.rootfs), (None, None));
        let err = root_propagation(Some("sideways")).unwrap_err();
        assert!(err.to_string().contains("\"sideways\""), "{err}");
    }
}
