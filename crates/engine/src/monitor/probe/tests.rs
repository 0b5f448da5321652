//! The probes' state machine, without a container: thresholds, gating, the kill.

use super::*;
use crate::container::{Probe, ProbeAction, Probes};

fn exec_probe(success_threshold: u32, failure_threshold: u32) -> Probe {
    Probe {
        success_threshold,
        failure_threshold,
        ..Probe::new(ProbeAction::Exec {
            command: vec!["true".into()],
        })
    }
}

fn index(set: &ProbeSet, which: Which) -> usize {
    set.runners.iter().position(|r| r.which == which).unwrap()
}

fn outcome(set: &mut ProbeSet, which: Which, success: bool) {
    let i = index(set, which);
    set.record(i, now_ns(), success, String::new());
}

/// A stand-in for the container's init: a child we may kill.
fn init() -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap()
}

#[test]
fn startup_gates_and_readiness_follows_its_thresholds() {
    let probes = Probes {
        startup: Some(exec_probe(1, 5)),
        liveness: Some(exec_probe(1, 3)),
        readiness: Some(exec_probe(2, 2)),
    };
    let mut child = init();
    let mut set = ProbeSet::new(&probes);
    set.reset(child.id().cast_signed());
    assert!(!set.state.started && !set.state.ready);
    assert!(set.active(Which::Startup));
    assert!(!set.active(Which::Liveness) && !set.active(Which::Readiness));
    outcome(&mut set, Which::Startup, false);
    outcome(&mut set, Which::Startup, true);
    assert!(
        set.state.started && !set.state.ready,
        "ready waits for readiness"
    );
    assert!(!set.active(Which::Startup) && set.active(Which::Liveness));
    outcome(&mut set, Which::Readiness, true);
    assert!(!set.state.ready, "two successes needed");
    outcome(&mut set, Which::Readiness, true);
    assert!(set.state.ready);
    outcome(&mut set, Which::Readiness, false);
    assert!(set.state.ready, "two failures needed");
    outcome(&mut set, Which::Readiness, false);
    assert!(!set.state.ready);
    // Liveness failures short of the threshold, broken by a success: no kill.
    for success in [false, false, true, false, false] {
        outcome(&mut set, Which::Liveness, success);
    }
    assert_eq!(set.state.liveness_kills, 0);
    assert!(child.try_wait().unwrap().is_none(), "not killed");
    outcome(&mut set, Which::Liveness, false);
    assert_eq!(set.state.liveness_kills, 1);
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(!set.active(Which::Liveness), "no checks after the kill");
    let last = set.state.log.last().unwrap();
    assert!(
        last.output.contains("liveness probe failed 3 times"),
        "{last:?}"
    );
    // A new run: gated again, the kill count kept.
    let mut child = init();
    set.reset(child.id().cast_signed());
    assert!(!set.state.started && set.active(Which::Startup));
    assert_eq!(set.state.liveness_kills, 1);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn without_startup_or_readiness_a_run_is_started_and_ready() {
    let probes = Probes {
        liveness: Some(exec_probe(1, 1)),
        ..Probes::default()
    };
    let mut set = ProbeSet::new(&probes);
    let mut child = init();
    set.reset(child.id().cast_signed());
    assert!(set.state.started && set.state.ready);
    for _ in 0..20 {
        outcome(&mut set, Which::Liveness, true);
    }
    assert_eq!(set.state.log.len(), LOG_LENGTH);
    assert!(set.changed);
    child.kill().unwrap();
    child.wait().unwrap();
}
