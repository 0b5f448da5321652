//! Path resolution inside a root, never escaping it: `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`, or, on kernels without openat2 (`ENOSYS`), a component-by-component
//! walk that keeps its own stack of directory fds, so `..` and absolute symlinks stop at the
//! root exactly as RESOLVE_IN_ROOT does, and magic links are read as plain text, never followed.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};

use crate::error::{Error, Result};

/// Symlinks followed in one resolution before giving up with `ELOOP` (the kernel's limit).
const MAX_SYMLINKS: usize = 40;
/// `openat2` retries after `EAGAIN` (a concurrent rename or mount raced the `..` check).
const EAGAIN_RETRIES: usize = 32;

static FORCE_FALLBACK: AtomicBool = AtomicBool::new(false);
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Makes every resolution in this process use the fallback walk instead of openat2, as on
/// a kernel without openat2. For tests of the fallback path; not part of the stable API.
#[doc(hidden)]
pub fn force_openat2_fallback(on: bool) {
    FORCE_FALLBACK.store(on, Ordering::SeqCst);
}

/// What [`create_in_root`] makes when the last component is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory (`mkdir -p`), for mount points of directories.
    Directory,
    /// An empty regular file, for bind mounts whose source is not a directory.
    File,
}

/// Opens `path` inside the directory `root`, treating `root` as `/`: absolute symlinks and
/// `..` never leave it, and magic links (`/proc/self/fd/N`…) are refused (openat2) or read as
/// plain text (fallback). `O_CLOEXEC` is always added; `O_CREAT` is refused (`EINVAL`): use
/// [`create_in_root`].
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use nix::fcntl::OFlag;
/// let root = std::fs::File::open("/run/x/rootfs")?;
/// // Even if /etc is a symlink to "../../../etc", this opens <rootfs>/etc/hostname.
/// let fd = peapod_rootfs::open_in_root(root.as_fd(), "/etc/hostname".as_ref(), OFlag::O_RDONLY)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> Result<OwnedFd> {
    resolve(root, path, flags).map_err(|e| Error::Resolve {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// `mkdir -p` inside `root` with the safety of [`open_in_root`]: each missing component is
/// created in the directory its parent resolved to, so a symlink can never make us create
/// outside the root. When the last component is missing it is created as `kind` with `mode`
/// (intermediate directories get 0755, both minus the umask). Returns an `O_PATH` fd of the
/// last component, whatever its type if it already existed.
pub fn create_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    kind: FileKind,
    mode: Mode,
) -> Result<OwnedFd> {
    create(root, path, kind, mode).map_err(|e| Error::Create {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// [`open_in_root`] with a bare errno, for callers that add their own context.
pub(crate) fn resolve(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    // (O_TMPFILE includes the O_DIRECTORY bit, hence `contains`.)
    if flags.contains(OFlag::O_CREAT) || flags.contains(OFlag::O_TMPFILE) {
        return Err(Errno::EINVAL);
    }
    let flags = flags | OFlag::O_CLOEXEC;
    if !FORCE_FALLBACK.load(Ordering::Relaxed) && !NO_OPENAT2.load(Ordering::Relaxed) {
        let rel = relative(path);
        let how = OpenHow::new()
            .flags(flags)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match openat2(root, rel.as_path(), how) {
                Err(Errno::EAGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                Err(Errno::ENOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                    break;
                }
                other => return other,
            }
        }
    }
    walk(root, path, flags)
}

/// `path` relative to the root (`.` for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The names to walk: normal components and `..`, in order.
fn names(path: &Path) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

fn is_type(mode: libc::mode_t, kind: SFlag) -> bool {
    mode & SFlag::S_IFMT.bits() == kind.bits()
}

/// The openat2-less resolution: RESOLVE_IN_ROOT semantics by hand.
fn walk(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut todo: VecDeque<OsString> = names(path).collect();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name.as_bytes() == b".." {
            stack.pop();
            continue;
        }
        let last = todo.is_empty();
        let cur = stack.last().map_or(root, AsFd::as_fd);
        let fd = openat(
            cur,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let st = fstat(&fd)?;
        if is_type(st.st_mode, SFlag::S_IFLNK) {
            if last && flags.contains(OFlag::O_NOFOLLOW) {
                return if flags.contains(OFlag::O_PATH) {
                    Ok(fd)
                } else {
                    Err(Errno::ELOOP)
                };
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = readlinkat(&fd, "")?;
            let target = Path::new(OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                stack.clear();
            }
            for n in names(target).rev() {
                todo.push_front(n);
            }
            continue;
        }
        if last {
            // Reopen with the caller's flags; O_NOFOLLOW stops a symlink swapped in since.
            return openat(
                cur,
                name.as_os_str(),
                flags | OFlag::O_NOFOLLOW,
                Mode::empty(),
            );
        }
        if !is_type(st.st_mode, SFlag::S_IFDIR) {
            return Err(Errno::ENOTDIR);
        }
        stack.push(fd);
    }
    // The path named the root, or ended in `..` or a symlink to a directory we now hold.
    let cur = stack.last().map_or(root, AsFd::as_fd);
    openat(cur, ".", flags, Mode::empty())
}

pub(crate) fn create(
    root: BorrowedFd<'_>,
    path: &Path,
    kind: FileKind,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    match resolve(root, path, OFlag::O_PATH) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let comps: Vec<Component<'_>> = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect();
    let mut prefix = PathBuf::from("/");
    let mut dir = resolve(root, &prefix, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    for (i, comp) in comps.iter().enumerate() {
        prefix.push(comp);
        match resolve(root, &prefix, OFlag::O_PATH) {
            Ok(fd) => {
                dir = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let Component::Normal(name) = comp else {
            return Err(Errno::ENOENT);
        };
        let last = i + 1 == comps.len();
        let made = if last && kind == FileKind::File {
            openat(
                &dir,
                *name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_RDONLY
                    | OFlag::O_CLOEXEC,
                mode,
            )
            .map(drop)
        } else {
            let m = if last {
                mode
            } else {
                Mode::from_bits_truncate(0o755)
            };
            mkdirat(&dir, *name, m)
        };
        match made {
            // EEXIST: someone made it meanwhile, or a dangling symlink is in the way; the
            // resolution below tells which (ENOENT for the dangling symlink).
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        dir = resolve(root, &prefix, OFlag::O_PATH)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    use nix::sys::stat::FileStat;

    /// Runs `f` once with openat2 and once with the fallback walk. The switch is
    /// process-wide, so the two runs are serialised with a lock.
    fn both(mut f: impl FnMut()) {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        force_openat2_fallback(false);
        f();
        force_openat2_fallback(true);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut f));
        force_openat2_fallback(false);
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }

    fn same(a: &FileStat, b: &FileStat) -> bool {
        a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// root/{etc/hostname, dir/}, plus escape symlinks; a host-side "outside" dir with a
    /// file called hostname too, so an escape would be noticed.
    fn fixture() -> (tempfile::TempDir, std::fs::File) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("dir/sub")).unwrap();
        std::fs::write(root.join("etc/hostname"), "inside").unwrap();
        std::fs::create_dir_all(tmp.path().join("etc")).unwrap();
        std::fs::write(tmp.path().join("etc/hostname"), "outside").unwrap();
        symlink("/../../../../etc", root.join("abs")).unwrap();
        symlink("../../../../../../etc", root.join("rel")).unwrap();
        symlink("dir/sub/../../etc/hostname", root.join("chain")).unwrap();
        symlink("/proc/self/root/etc", root.join("magic")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("/etc", root.join("dir/back")).unwrap();
        let file = std::fs::File::open(&root).unwrap();
        (tmp, file)
    }

    fn read(fd: OwnedFd) -> String {
        std::io::read_to_string(std::fs::File::from(fd)).unwrap()
    }

    #[test]
    fn escapes_resolve_inside_the_root() {
        let (_tmp, root) = fixture();
        let root = root.as_fd();
        both(|| {
            for p in [
                "/abs/hostname",
                "rel/hostname",
                "/chain",
                "../../etc/hostname",
                "/dir/back/hostname",
                "/dir/../../../etc/hostname",
            ] {
                let fd = open_in_root(root, Path::new(p), OFlag::O_RDONLY).unwrap();
                assert_eq!(read(fd), "inside", "{p}");
            }
        });
    }

    #[test]
    fn the_root_itself_and_parents_of_it() {
        let (_tmp, root) = fixture();
        let want = fstat(root.as_fd()).unwrap();
        both(|| {
            for p in ["/", "", "..", "/../..", "dir/.."] {
                let fd = open_in_root(root.as_fd(), Path::new(p), OFlag::O_PATH).unwrap();
                assert!(same(&fstat(&fd).unwrap(), &want), "{p}");
            }
        });
    }

    #[test]
    fn magic_links_and_loops_do_not_leave_the_root() {
        let (_tmp, root) = fixture();
        both(|| {
            // Read as text, /proc/self/root/etc does not exist inside the root.
            let err = resolve(root.as_fd(), Path::new("/magic/hostname"), OFlag::O_RDONLY);
            assert_eq!(err.unwrap_err(), Errno::ENOENT);
            let err = resolve(root.as_fd(), Path::new("/loop"), OFlag::O_RDONLY);
            assert_eq!(err.unwrap_err(), Errno::ELOOP);
            let err = resolve(root.as_fd(), Path::new("/etc/hostname/x"), OFlag::O_RDONLY);
            assert_eq!(err.unwrap_err(), Errno::ENOTDIR);
        });
    }

    #[test]
    fn nofollow_returns_the_link_itself_with_o_path() {
        let (_tmp, root) = fixture();
        both(|| {
            let fd = resolve(
                root.as_fd(),
                Path::new("/abs"),
                OFlag::O_PATH | OFlag::O_NOFOLLOW,
            )
            .unwrap();
            assert!(is_type(fstat(&fd).unwrap().st_mode, SFlag::S_IFLNK));
            let err = resolve(
                root.as_fd(),
                Path::new("/abs"),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW,
            );
            assert_eq!(err.unwrap_err(), Errno::ELOOP);
        });
    }

    #[test]
    fn o_creat_is_refused() {
        let (_tmp, root) = fixture();
        let err = open_in_root(root.as_fd(), Path::new("/new"), OFlag::O_CREAT).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL));
        assert!(
            err.to_string()
                .starts_with("cannot resolve /new inside the root: ")
        );
    }

    #[test]
    fn create_makes_directories_and_files_inside() {
        let (tmp, root) = fixture();
        let inside = tmp.path().join("root");
        let mut n = 0;
        both(|| {
            n += 1;
            let dir = format!("/abs/made{n}/deeper");
            let fd = create_in_root(
                root.as_fd(),
                Path::new(&dir),
                FileKind::Directory,
                Mode::from_bits_truncate(0o700),
            )
            .unwrap();
            let st = fstat(&fd).unwrap();
            assert!(is_type(st.st_mode, SFlag::S_IFDIR));
            let made = inside.join(format!("etc/made{n}/deeper"));
            assert!(made.is_dir(), "{}", made.display());
            assert!(!tmp.path().join(format!("etc/made{n}")).exists());

            let file = format!("/rel/file{n}");
            let fd = create_in_root(
                root.as_fd(),
                Path::new(&file),
                FileKind::File,
                Mode::from_bits_truncate(0o644),
            )
            .unwrap();
            assert!(is_type(fstat(&fd).unwrap().st_mode, SFlag::S_IFREG));
            assert!(inside.join(format!("etc/file{n}")).is_file());
            // Existing paths are returned as they are.
            let again = create_in_root(
                root.as_fd(),
                Path::new("/etc"),
                FileKind::File,
                Mode::empty(),
            )
            .unwrap();
            assert!(is_type(fstat(&again).unwrap().st_mode, SFlag::S_IFDIR));
        });
    }

    #[test]
    fn create_refuses_a_dangling_symlink_in_the_way() {
        let (tmp, root) = fixture();
        symlink("../../../../../nowhere", tmp.path().join("root/dangling")).unwrap();
        both(|| {
            let err = create_in_root(
                root.as_fd(),
                Path::new("/dangling/x"),
                FileKind::Directory,
                Mode::from_bits_truncate(0o755),
            )
            .unwrap_err();
            assert_eq!(err.errno(), Some(Errno::ENOENT), "{err}");
        });
        assert!(!tmp.path().join("nowhere").exists());
    }
}
