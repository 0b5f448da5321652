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
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t.unsigned_abs()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(fail(format!("cannot be waited for: {e}"))),
        }
        if let Some(limit) = timeout {
            if started.elapsed() >= limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("timed out after {}s", limit.as_secs())));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim();
    Err(fail(if stderr.is_empty() {
        format!("failed: {status}")
    } else {
        format!("failed: {status}: {stderr}")
    }))
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
}
