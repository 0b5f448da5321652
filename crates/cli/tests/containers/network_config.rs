//! The default network's configuration file, `--network none` and `--network host`, inside
//! a fake host.

use crate::fake_host::FakeHost;
use crate::support::{Engine, IMAGE, text};

/// `peapod --config CONF ARGS` inside the fake host (the global flag goes after the verb,
/// where the harness adds its own).
fn with_config(
    host: &FakeHost,
    e: &Engine,
    conf: &std::path::Path,
    line: &str,
) -> std::process::Output {
    let mut args: Vec<&str> = line
        .split_whitespace()
        .map(|w| if w == "IMAGE" { IMAGE } else { w })
        .collect();
    let conf = conf.to_str().unwrap();
    args.splice(1..1, ["--config", conf]);
    host.peapod(e, &args)
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_default_network_follows_the_config_file_and_refuses_a_change_under_containers() {
    let e = Engine::new();
    let host = FakeHost::new(&e);
    let conf = e.tmp.path().join("peapod.conf");
    let write = |text: &str| std::fs::write(&conf, text).unwrap();
    write("[network]\nsubnet = \"10.60.0.0/16\"\nbridge = \"ppnet-br0\"\nmtu = 1400\n");
    let ok = |line: &str| {
        let out = with_config(&host, &e, &conf, line);
        assert!(out.status.success(), "{line}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok("run -d --name cfg --network bridge IMAGE sleep 1000");
    let probe = "ip -o -4 addr show eth0; ip -o link show eth0 | grep -o 'mtu [0-9]*'";
    let inside = host.ok(&e, &["exec", "cfg", "sh", "-c", probe]);
    assert!(
        inside.contains("inet 10.60.0.2/16") && inside.ends_with("mtu 1400\n"),
        "{inside}"
    );
    assert!(host.links().contains("ppnet-br0"), "{}", host.links());

    // A changed subnet with a container on it: a clear error, nothing changed.
    write("[network]\nsubnet = \"10.61.0.0/16\"\nbridge = \"ppnet-br0\"\nmtu = 1400\n");
    let before = host.state(&e);
    let out = with_config(&host, &e, &conf, "run --rm --network bridge IMAGE true");
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has subnet 10.60.0.0/16 in the database but 10.61.0.0/16 in")
            && err.contains(conf.to_str().unwrap())
            && err.contains("container cfg"),
        "{err}"
    );
    assert_eq!(host.state(&e), before, "nothing changed");
    // Bad files: refused before anything is done.
    for (text_, needle) in [
        (
            "[network]\nsubnett = \"10.62.0.0/16\"\n",
            "unknown field `subnett`",
        ),
        ("[network]\nsubnet = \"10.999.0.0/16\"\n", "10.999.0.0/16"),
        ("[network\n", "bad configuration"),
    ] {
        write(text_);
        let out = with_config(&host, &e, &conf, "run --rm --network bridge IMAGE true");
        assert_eq!(out.status.code(), Some(125), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            text(&out)
        );
    }
    let missing = e.tmp.path().join("nonexistent.conf");
    let out = with_config(&host, &e, &missing, "ps");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nonexistent.conf"),
        "{}",
        text(&out)
    );
    assert_eq!(host.state(&e), before, "nothing changed");

    // Once nobody is on it, the next use remakes it as configured.
    write(
        "[network]\nsubnet = \"10.61.0.0/16\"\nsubnet6 = \"fd61::/64\"\nbridge = \"ppnet-br1\"\n",
    );
    host.okw(&e, "rm -f cfg");
    let out = ok("run --rm --network bridge IMAGE ip -o addr show eth0");
    assert!(
        out.contains("inet 10.61.0.2/16") && out.contains("inet6 fd61::2/64"),
        "{out}"
    );
    let links = host.links();
    assert!(
        links.contains("ppnet-br1") && !links.contains("ppnet-br0"),
        "{links}"
    );
    let rules = host.ruleset();
    assert!(
        !rules.contains("ppnet-br0") && !rules.contains("10.60.0.0"),
        "{rules}"
    );
    host.wait_clean(&e);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn network_none_has_only_lo_and_host_sees_the_fake_hosts_links() {
    let e = Engine::new();
    let host = FakeHost::new(&e);
    let out = std::process::Command::new("ip")
        .args(["-n", &host.name, "link", "add", "ppnet-va", "type", "veth"])
        .args(["peer", "name", "ppnet-vb"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let names = |out: String| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect()
    };
    let none = names(host.okw(&e, "run --rm --network none IMAGE ip -o link"));
    assert_eq!(none, ["lo"]);
    let inside = names(host.okw(&e, "run --rm --network host IMAGE ip -o link"));
    assert_eq!(inside, ["lo", "ppnet-vb", "ppnet-va"]);
    // The default (no --network) is none, as today.
    let default = names(host.okw(&e, "run --rm IMAGE ip -o link"));
    assert_eq!(default, ["lo"]);
    host.wait_clean(&e);
    e.assert_clean();
}
