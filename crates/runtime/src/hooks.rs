//! OCI hooks: run each with the container's state on stdin, its own args and env, and its
//! timeout; report failures naming the hook.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs `hooks` in order, stopping at the first failure.
pub(crate) fn run(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<()> {
    hooks
        .iter()
        .try_for_each(|hook| run_one(kind, hook, state_json, false))
}

/// As [`run`], for hooks init runs in the container (createContainer, startContainer): their
/// paths may resolve in the container's rootfs, so they are exec'd through the sealed
/// trampoline, like the container's program, never from this (runtime) binary
/// (CVE-2019-5736).
pub(crate) fn run_in_container(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<()> {
    hooks
        .iter()
        .try_for_each(|hook| run_one(kind, hook, state_json, true))
}

fn run_one(kind: &'static str, hook: &Hook, state_json: &str, in_container: bool) -> Result<()> {
    let fail = |why: String| Error::Hook {
        hook: kind,
        path: hook.path().clone(),
        why,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some(arg0) = args.first() {
            cmd.arg0(arg0);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for pair in hook.env().iter().flatten() {
        if let Some((key, value)) = pair.split_once('=') {
            cmd.env(key, value);
        }
    }
    if let Some(trampoline) = crate::trampoline::get().filter(|_| in_container) {
        let c = |s: &str| CString::new(s).map_err(|_| fail(format!("{s:?} holds a NUL byte")));
        let path = c(&hook.path().to_string_lossy())?;
        let args = match hook.args().as_deref() {
            Some(args) if !args.is_empty() => args.iter().map(|a| c(a)).collect::<Result<_>>()?,
            _ => vec![path.clone()],
        };
        let env = hook
            .env()
            .iter()
            .flatten()
            .map(|e| c(e))
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: the closure runs in the forked child of this single-threaded process,
        // after std has set up its stdio; it only execs (or returns the exec's error).
        unsafe {
            cmd.pre_exec(move || Err(trampoline.exec_errno(&path, &args, &env).into()));
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t.unsigned_abs()));
    let (status, stderr) =
        supervise(&mut child, state_json.as_bytes(), timeout).map_err(|e| fail(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = stderr.trim();
    Err(fail(if stderr.is_empty() {
        format!("failed: {status}")
    } else {
        format!("failed: {status}: {stderr}")
    }))
}

/// Reads what `pipe` holds now into `tail` (keeping about [`STDERR_TAIL`] bytes); at
/// end-of-file (the hook and its children closed it) drops the pipe.
fn drain(pipe: &mut Option<std::process::ChildStderr>, tail: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    while let Some(open) = pipe {
        match open.read(&mut chunk) {
            Ok(0) => *pipe = None,
            Ok(n) => {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// How much of a hook's stderr is kept for its error message: the end, where the cause is.
const STDERR_TAIL: usize = 4096;

/// Why a hook could not be seen through.
#[derive(Debug)]
enum Supervision {
    TimedOut(Duration),
    Wait(std::io::Error),
    Pipe(nix::Error),
}

impl std::fmt::Display for Supervision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TimedOut(limit) => write!(f, "timed out after {}s", limit.as_secs()),
            Self::Wait(e) => write!(f, "cannot be waited for: {e}"),
            Self::Pipe(e) => write!(f, "cannot be read from or written to: {e}"),
        }
    }
}

/// Waits for `child` while feeding it `input` on stdin and draining its stderr, so that
/// neither pipe can fill and stall it (a hook writing more than a pipe holds, or a state
/// larger than one, must not hang the runtime); returns its status and the last
/// [`STDERR_TAIL`] bytes of its stderr. Kills it once `timeout` has passed.
fn supervise(
    child: &mut std::process::Child,
    input: &[u8],
    timeout: Option<Duration>,
) -> std::result::Result<(std::process::ExitStatus, Vec<u8>), Supervision> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;

    let nonblocking = |fd: std::os::fd::BorrowedFd<'_>| {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map(drop)
        .map_err(Supervision::Pipe)
    };
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    if let Some(pipe) = &stdin {
        nonblocking(pipe.as_fd())?;
    }
    if let Some(pipe) = &stderr {
        nonblocking(pipe.as_fd())?;
    }
    let mut written = 0;
    if input.is_empty() {
        stdin = None;
    }
    let mut tail = Vec::new();
    let started = Instant::now();
    loop {
        drain(&mut stderr, &mut tail);
        if let Some(pipe) = &mut stdin {
            match pipe.write(&input[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A hook that does not read its stdin is fine (EPIPE).
                Err(_) => written = input.len(),
            }
            if written == input.len() {
                // Closed: the hook reads end-of-file after the state.
                stdin = None;
            }
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                // What it wrote just before it exited.
                drain(&mut stderr, &mut tail);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
                return Ok((status, tail));
            }
            Ok(None) => {}
            Err(e) => return Err(Supervision::Wait(e)),
        }
        if let Some(limit) = timeout {
            if started.elapsed() >= limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Supervision::TimedOut(limit));
            }
        }
        // Wake on output, room for input or end-of-file; otherwise look again soon (a
        // hook's background child may hold its stderr open after it exited).
        let mut fds = Vec::with_capacity(2);
        if let Some(pipe) = &stderr {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
        }
        if let Some(pipe) = &stdin {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLOUT));
        }
        let wait = if fds.is_empty() { 1u8 } else { 10u8 };
        match poll(&mut fds, PollTimeout::from(wait)) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Supervision::Pipe(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::HookBuilder;

    use super::*;

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()])
            .env(vec!["HOOK_VAR=hello".to_owned()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn a_hook_gets_the_state_on_stdin_and_its_own_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}; echo \" $HOOK_VAR $0\" >> {0}", out.display());
        run("poststart", &[hook(&script, None)], "{\"id\":\"c\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            "{\"id\":\"c\"} hello sh\n"
        );
    }

    #[test]
    fn a_failing_hook_is_named_with_its_stderr_and_stops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let second = hook(&format!("touch {}", marker.display()), None);
        let err = run(
            "createRuntime",
            &[hook("echo broken >&2; exit 3", None), second],
            "{}",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "createRuntime hook /bin/sh failed: exit status: 3: broken"
        );
        assert!(!marker.exists());
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let started = Instant::now();
        let err = run("prestart", &[hook("sleep 5", Some(1))], "{}").unwrap_err();
        assert_eq!(err.to_string(), "prestart hook /bin/sh timed out after 1s");
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn a_hook_writing_more_than_a_pipe_holds_is_drained_and_its_tail_kept() {
        let started = Instant::now();
        let script =
            "head -c 262144 /dev/zero | tr '\\0' x >&2; (echo; echo the-cause) >&2; exit 4";
        let err = run("createRuntime", &[hook(script, Some(20))], "{}")
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(10), "{err}");
        assert!(err.ends_with("xx\nthe-cause"), "{}", &err[err.len() - 40..]);
        assert!(err.len() < STDERR_TAIL + 100, "{}", err.len());
        assert!(err.starts_with("createRuntime hook /bin/sh failed: exit status: 4: xxx"));
    }

    #[test]
    fn a_state_larger_than_a_pipe_reaches_a_hook_whole_or_is_ignored_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("len");
        let state = format!("{{\"big\":\"{}\"}}", "y".repeat(1 << 20));
        let count = format!("wc -c > {}", out.display());
        run("poststart", &[hook(&count, Some(20))], &state).unwrap();
        let len = std::fs::read_to_string(&out).unwrap();
        assert_eq!(len.trim(), state.len().to_string());
        let started = Instant::now();
        run("poststart", &[hook("exit 0", Some(20))], &state).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
