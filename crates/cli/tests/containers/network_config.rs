//! The default network's configuration file, `--network none` and `--network host`, inside
//! a fake host.

use crate::support::{Engine, text};

#[test]
#[ignore = "root: cargo xtask test"]
fn the_default_network_follows_the_config_file_and_refuses_a_change_under_containers() {
    let e = Engine::new();
    let conf = e.tmp.path().join("peapod.conf");
    let write = |text: &str| std::fs::write(&conf, text).unwrap();
    write("[network]\nsubnet = \"10.60.0.0/16\"\nbridge = \"ppnet-br0\"\nmtu = 1400\n");
    let ok = |line: &str| {
        let out = e.with_config(&conf, line);
        assert!(out.status.success(), "{line}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok("run -d --name cfg --network bridge IMAGE sleep 1000");
    let probe = "ip -o -4 addr show eth0; ip -o link show eth0 | grep -o 'mtu [0-9]*'";
    let inside = e.ok(&["exec", "cfg", "sh", "-c", probe]);
    assert!(
        inside.contains("inet 10.60.0.2/16") && inside.ends_with("mtu 1400\n"),
        "{inside}"
    );
    assert!(e.host.links().contains("ppnet-br0"), "{}", e.host.links());

    // A changed subnet with a container on it: a clear error, nothing changed.
    write("[network]\nsubnet = \"10.61.0.0/16\"\nbridge = \"ppnet-br0\"\nmtu = 1400\n");
    let before = e.state();
    let out = e.with_config(&conf, "run --rm --network bridge IMAGE true");
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has subnet 10.60.0.0/16 in the database but 10.61.0.0/16 in")
            && err.contains(conf.to_str().unwrap())
            && err.contains("container cfg"),
        "{err}"
    );
    assert_eq!(e.state(), before, "nothing changed");
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
        let out = e.with_config(&conf, "run --rm --network bridge IMAGE true");
        assert_eq!(out.status.code(), Some(125), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            text(&out)
        );
    }
    let missing = e.tmp.path().join("nonexistent.conf");
    let out = e.with_config(&missing, "ps");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nonexistent.conf"),
        "{}",
        text(&out)
    );
    assert_eq!(e.state(), before, "nothing changed");

    // Once nobody is on it, the next use remakes it as configured.
    write(
        "[network]\nsubnet = \"10.61.0.0/16\"\nsubnet6 = \"fd61::/64\"\nbridge = \"ppnet-br1\"\n",
    );
    e.okw("rm -f cfg");
    let out = ok("run --rm --network bridge IMAGE ip -o addr show eth0");
    assert!(
        out.contains("inet 10.61.0.2/16") && out.contains("inet6 fd61::2/64"),
        "{out}"
    );
    let links = e.host.links();
    assert!(
        links.contains("ppnet-br1") && !links.contains("ppnet-br0"),
        "{links}"
    );
    let rules = e.host.ruleset();
    assert!(
        !rules.contains("ppnet-br0") && !rules.contains("10.60.0.0"),
        "{rules}"
    );
    e.wait_clean();
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn network_none_has_only_lo_and_host_sees_the_fake_hosts_links() {
    let e = Engine::new();
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            &e.host.name,
            "link",
            "add",
            "ppnet-va",
            "type",
            "veth",
        ])
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
    let none = names(e.okw("run --rm --network none IMAGE ip -o link"));
    assert_eq!(none, ["lo"]);
    let inside = names(e.okw("run --rm --network host IMAGE ip -o link"));
    assert_eq!(inside, ["lo", "ppnet-vb", "ppnet-va"]);
    // The default (no --network) is the default network.
    let default = names(e.okw("run --rm IMAGE ip -o link"));
    assert_eq!(default, ["lo", "eth0"]);
    e.wait_clean();
    e.assert_clean();
}
