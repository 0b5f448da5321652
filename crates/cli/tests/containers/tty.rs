//! `-t` in a real terminal (tmux): typing into a shell, window sizes, ctrl-c, a prompt
//! without a newline, detaching and attaching again, exit codes; `exec -it`, `run -t`
//! without `-i`, `start -ai`; and docker's sig-proxy without `-t`.

use std::time::Duration;

use crate::support::{Engine, IMAGE};
use crate::tmux::Tmux;

/// The screen lines a shell prompt leaves after `line` was typed at it.
fn typed(line: &str) -> String {
    format!("/ # {line}")
}

/// Ends the terminals, then checks that the test left nothing behind.
fn done(e: &Engine, t: &Tmux) {
    t.close();
    e.assert_clean();
}

/// Waits until `sleep 600` runs in container `name` (so that ctrl-c finds it running).
fn wait_for_sleep(e: &Engine, name: &str) {
    let until = std::time::Instant::now() + crate::tmux::SCREEN_TIMEOUT;
    loop {
        let ps = e.ok(&["exec", name, "ps"]);
        if ps.lines().any(|l| l.ends_with(" sleep 600")) {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{name}: no sleep runs; ps shows {ps}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn run_it_types_resizes_interrupts_detaches_attaches_and_exits() {
    let e = Engine::new();
    let t = Tmux::new();
    t.open(
        "run",
        80,
        24,
        &e.cmd(&["run", "-it", "--name", "tty-it", IMAGE, "sh"]),
    );
    let mut screen: Vec<String> = vec!["/ #".into()];
    let check = |screen: &[String]| {
        let want: Vec<&str> = screen.iter().map(String::as_str).collect();
        t.wait_screen("run", &want);
    };
    check(&screen);
    // What is typed reaches the shell; its output reaches the terminal.
    t.type_line("run", "echo hi $((6*7))");
    screen.pop();
    screen.extend([typed("echo hi $((6*7))"), "hi 42".into(), "/ #".into()]);
    check(&screen);
    // The container's terminal has ours's size, and follows it.
    t.type_line("run", "stty size");
    screen.pop();
    screen.extend([typed("stty size"), "24 80".into(), "/ #".into()]);
    check(&screen);
    t.resize("run", 100, 30);
    t.type_line("run", "stty size");
    screen.pop();
    screen.extend([typed("stty size"), "30 100".into(), "/ #".into()]);
    check(&screen);
    // A prompt without a newline shows at once; the answer reaches the program.
    t.type_line("run", "printf 'name? '; read n; echo \"hello $n\"");
    screen.pop();
    screen.extend([
        typed("printf 'name? '; read n; echo \"hello $n\""),
        "name?".into(),
    ]);
    check(&screen);
    t.type_line("run", "pea");
    screen.pop();
    screen.extend(["name? pea".into(), "hello pea".into(), "/ #".into()]);
    check(&screen);
    // ctrl-c goes to the container's foreground program, not to peapod.
    t.type_line("run", "sleep 600; echo not interrupted");
    screen.pop();
    screen.push(typed("sleep 600; echo not interrupted"));
    check(&screen);
    wait_for_sleep(&e, "tty-it");
    t.keys("run", &["C-c"]);
    screen.extend(["^C".into(), "/ #".into()]);
    check(&screen);
    // ctrl-p ctrl-q detaches: peapod exits 0, the container runs on.
    t.keys("run", &["C-p", "C-q"]);
    assert_eq!(t.wait_exit("run"), 0);
    assert_eq!(e.inspect("tty-it", "{{.State.Status}}"), "running");
    // Attached again (the shell redraws its prompt), typing works; `exit 3` is our code.
    t.open("again", 80, 24, &e.cmd(&["attach", "tty-it"]));
    t.wait_screen("again", &["/ #"]);
    t.type_line("again", "echo again");
    t.wait_screen("again", &[&typed("echo again"), "again", "/ #"]);
    t.type_line("again", "exit 3");
    assert_eq!(t.wait_exit("again"), 3);
    e.wait_for(
        "tty-it",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 3",
        Duration::from_secs(10),
    );
    e.ok(&["rm", "tty-it"]);
    done(&e, &t);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn exec_it_runs_a_shell_in_a_terminal_of_its_own() {
    let e = Engine::new();
    let t = Tmux::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "tty-exec",
        IMAGE,
        "tail",
        "-f",
        "/dev/null",
    ]);
    e.wait_for(
        "tty-exec",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    t.open("exec", 80, 24, &e.cmd(&["exec", "-it", "tty-exec", "sh"]));
    t.wait_screen("exec", &["/ #"]);
    t.type_line("exec", "tty; stty size");
    let mut screen = vec![typed("tty; stty size"), "/dev/pts/0".into(), "24 80".into()];
    let check = |screen: &[String], last: &[&str]| {
        let mut want: Vec<&str> = screen.iter().map(String::as_str).collect();
        want.extend_from_slice(last);
        t.wait_screen("exec", &want);
    };
    check(&screen, &["/ #"]);
    t.resize("exec", 90, 20);
    t.type_line("exec", "stty size");
    screen.extend([typed("stty size"), "20 90".into()]);
    check(&screen, &["/ #"]);
    t.type_line("exec", "sleep 600");
    screen.push(typed("sleep 600"));
    check(&screen, &[]);
    wait_for_sleep(&e, "tty-exec");
    t.keys("exec", &["C-c"]);
    check(&screen, &["^C", "/ #"]);
    t.type_line("exec", "exit 5");
    assert_eq!(t.wait_exit("exec"), 5);
    // The container was not touched.
    assert_eq!(e.inspect("tty-exec", "{{.State.Status}}"), "running");
    e.ok(&["rm", "-f", "tty-exec"]);
    done(&e, &t);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn run_it_has_the_terminal_size_from_the_start() {
    let e = Engine::new();
    let t = Tmux::new();
    // A size no default has: the first thing the program does is ask for it.
    t.open(
        "size",
        97,
        31,
        &e.cmd(&[
            "run", "--rm", "-it", "--name", "tty-size", IMAGE, "stty", "size",
        ]),
    );
    assert_eq!(t.wait_exit("size"), 0);
    t.wait_screen("size", &["31 97"]);
    done(&e, &t);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn run_t_without_i_shows_the_output_at_once() {
    let e = Engine::new();
    let t = Tmux::new();
    // It waits, after a line without a newline, until the test has seen that line. Its
    // size is asked only then: the terminal's size reaches the container after it started
    // (the client sends it on attaching), so a `stty size` at once may see 0 0.
    let script = "tty; printf waiting; while [ ! -e /tmp/go ]; do sleep 0.05; done; \
                  echo; stty size; echo done; exit 4";
    t.open(
        "out",
        80,
        24,
        &e.cmd(&[
            "run", "--rm", "-t", "--name", "tty-t", IMAGE, "sh", "-c", script,
        ]),
    );
    t.wait_screen("out", &["/dev/pts/0", "waiting"]);
    e.ok(&["exec", "tty-t", "touch", "/tmp/go"]);
    assert_eq!(t.wait_exit("out"), 4);
    t.wait_screen("out", &["/dev/pts/0", "waiting", "24 80", "done"]);
    done(&e, &t);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn start_ai_attaches_a_created_it_container() {
    let e = Engine::new();
    let t = Tmux::new();
    e.ok(&["create", "-it", "--name", "tty-start", IMAGE, "sh"]);
    t.open("start", 80, 24, &e.cmd(&["start", "-ai", "tty-start"]));
    t.wait_screen("start", &["/ #"]);
    t.type_line("start", "echo started; stty size");
    t.wait_screen(
        "start",
        &[&typed("echo started; stty size"), "started", "24 80", "/ #"],
    );
    t.type_line("start", "exit 6");
    assert_eq!(t.wait_exit("start"), 6);
    e.ok(&["rm", "tty-start"]);
    done(&e, &t);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn without_t_signals_go_to_the_container() {
    let e = Engine::new();
    let t = Tmux::new();
    // ctrl-c in the terminal (SIGINT to peapod, the terminal's foreground program) and
    // SIGTERM to peapod both reach the container's shell.
    let script = "trap 'echo got INT' INT; trap 'echo got TERM; exit 9' TERM; echo ready; \
                  while true; do sleep 0.05; done";
    t.open(
        "proxy",
        80,
        24,
        &e.cmd(&[
            "run",
            "--rm",
            "--name",
            "tty-proxy",
            IMAGE,
            "sh",
            "-c",
            script,
        ]),
    );
    t.wait_screen("proxy", &["ready"]);
    t.keys("proxy", &["C-c"]);
    // The terminal is not in raw mode: it echoes ^C itself, before what the shell says.
    t.wait_until("proxy", "\"got INT\"", |s| {
        s.len() == 2 && s[0] == "ready" && s[1].ends_with("got INT")
    });
    let pid = nix::unistd::Pid::from_raw(t.pid("proxy"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(t.wait_exit("proxy"), 9);
    t.wait_until("proxy", "\"got TERM\"", |s| {
        s.len() == 3 && s[2] == "got TERM"
    });
    // --sig-proxy=false: SIGTERM ends peapod, and the container runs on.
    t.open(
        "noproxy",
        80,
        24,
        &e.cmd(&[
            "run",
            "--sig-proxy=false",
            "--name",
            "tty-noproxy",
            IMAGE,
            "sh",
            "-c",
            script,
        ]),
    );
    t.wait_screen("noproxy", &["ready"]);
    let pid = nix::unistd::Pid::from_raw(t.pid("noproxy"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(t.wait_exit("noproxy"), 128 + 15);
    assert_eq!(e.inspect("tty-noproxy", "{{.State.Status}}"), "running");
    e.ok(&["rm", "-f", "tty-noproxy"]);
    done(&e, &t);
}
