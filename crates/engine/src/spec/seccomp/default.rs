//! peapod's default profile: the allow-list, by category, and the rules a capability unlocks.
//! The policy and its reasons are in the parent module's doc.

use serde_json::{Value, json};

use super::has_cap;

/// `EPERM`: what a denied call returns (the profile's default action).
const EPERM: u32 = 1;
/// `ENOSYS`: what `clone3` returns without `CAP_SYS_ADMIN`, so that libc falls back to `clone`,
/// whose flags the filter can inspect (`clone3` passes them in memory, out of its reach).
const ENOSYS: u32 = 38;

/// The namespace flags of `clone(2)`: `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
/// CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET`.
const CLONE_NAMESPACE_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// The `personality(2)` personas allowed: `PER_LINUX`, `PER_LINUX32`, `UNAME26`,
/// `PER_LINUX32 | UNAME26`, and `0xffffffff` (which only queries the current one).
const PERSONAS: &[u64] = &[0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Processes, threads, identity, limits, scheduling of one's own threads, signals and time
/// read (not set).
#[rustfmt::skip]
const PROCESS: &[&str] = &[
    "alarm", "capget", "capset", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "adjtimex", "execve", "execveat", "exit", "exit_group", "fork",
    "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
    "get_robust_list", "getcpu", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
    "getgid32", "getgroups", "getgroups32", "getitimer", "getpgid", "getpgrp", "getpid",
    "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "getrusage", "getsid", "gettid", "gettimeofday", "getuid",
    "getuid32", "ioprio_get", "ioprio_set", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "membarrier", "nanosleep", "pause",
    "pidfd_open", "pidfd_send_signal", "prctl", "prlimit64", "process_mrelease", "ptrace",
    "process_vm_readv", "process_vm_writev", "restart_syscall", "rseq", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
    "seccomp", "set_robust_list", "set_tid_address", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setuid", "setuid32",
    "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4", "sigpending", "sigprocmask",
    "sigreturn", "sigsuspend", "sysinfo", "syscall", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "ugetrlimit", "uname", "vfork",
    "wait4", "waitid", "waitpid",
];

/// Memory of one's own process.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "madvise", "map_shadow_stack", "memfd_create", "memfd_secret", "mincore", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "mseal", "msync", "munlock",
    "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
];

/// Files, directories, extended attributes, file descriptors, I/O and its multiplexing.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "_llseek", "_newselect", "access", "cachestat", "chdir", "chmod", "chown", "chown32",
    "close", "close_range", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
    "file_getattr", "file_setattr", "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat",
    "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
    "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "getxattrat",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
    "io_submit", "ioctl", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listxattr",
    "listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "mkdir", "mkdirat", "mknod", "mknodat", "name_to_handle_at", "newfstatat", "open", "openat",
    "openat2", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "pread64", "preadv", "preadv2",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readdir", "readlink", "readlinkat", "readv", "removexattr", "removexattrat", "rename",
    "renameat", "renameat2", "rmdir", "select", "sendfile", "sendfile64", "setxattr",
    "setxattrat", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate", "truncate64", "umask",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vmsplice",
    "write", "writev",
];

/// Sockets and System V / POSIX IPC (both are namespaced).
#[rustfmt::skip]
const NETWORK_IPC: &[&str] = &[
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "ipc",
    "listen", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
    "msgget", "msgrcv", "msgsnd", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendmmsg",
    "sendmsg", "sendto", "setsockopt", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "socket", "socketcall", "socketpair",
];

/// The calls one architecture family needs for thread-local storage and the like.
fn arch_specific() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" | "x86" => &[
            "arch_prctl",
            "get_thread_area",
            "modify_ldt",
            "set_thread_area",
        ],
        "aarch64" | "arm" => &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
        "riscv64" => &["riscv_flush_icache", "riscv_hwprobe"],
        _ => &[],
    }
}

/// The seccomp architectures of this host: the native one and those whose binaries it runs.
fn architectures() -> Vec<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "x86" => vec!["SCMP_ARCH_X86"],
        "aarch64" => vec!["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "arm" => vec!["SCMP_ARCH_ARM"],
        "riscv64" => vec!["SCMP_ARCH_RISCV64"],
        "powerpc64" => vec!["SCMP_ARCH_PPC64LE"],
        "s390x" => vec!["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
        _ => vec![],
    }
}

/// What one capability unlocks (beyond the allow-list).
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "listns",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "open_tree_attr",
            "perf_event_open",
            "pivot_root",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
    ("CAP_SYSLOG", &["syslog"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "pidfd_getfd", "process_madvise", "userfaultfd"],
    ),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "finit_module", "init_module"],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    (
        "CAP_SYS_TIME",
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
    ),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "migrate_pages",
            "move_pages",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
];

/// The OCI `linux.seccomp` object of peapod's default profile for a container whose bounding
/// set is `capabilities` (`CAP_SYS_ADMIN` or `SYS_ADMIN`); see the module doc for the policy.
/// The architectures are this build's (x86-64 with x86 and x32; aarch64 with arm).
pub fn default_profile(capabilities: &[String]) -> Value {
    let mut allowed: Vec<&str> = [PROCESS, MEMORY, FILES, NETWORK_IPC, arch_specific()]
        .concat()
        .into_iter()
        .chain(
            BY_CAPABILITY
                .iter()
                .filter(|(cap, _)| has_cap(capabilities, cap))
                .flat_map(|(_, names)| names.iter().copied()),
        )
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    let admin = has_cap(capabilities, "CAP_SYS_ADMIN");
    let mut rules = vec![json!({"names": allowed, "action": "SCMP_ACT_ALLOW"})];
    for persona in PERSONAS {
        rules.push(json!({
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}],
        }));
    }
    if !admin {
        // clone(flags, …) without a namespace flag; clone3 fails as if it did not exist.
        rules.push(json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": clone_flags_index(), "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0,
                      "op": "SCMP_CMP_MASKED_EQ"}],
        }));
        rules.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": architectures(),
        "syscalls": rules,
    })
}

/// The argument of `clone` that holds its flags: the second on s390, the first elsewhere.
fn clone_flags_index() -> u32 {
    if std::env::consts::ARCH == "s390x" {
        1
    } else {
        0
    }
}
