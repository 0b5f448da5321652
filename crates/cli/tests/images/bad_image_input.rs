//! Bad input: a clear error naming the object and the cause, exit 125, and nothing left
//! behind (no image row, nothing in `tmp/`, no new blob or layer).

use crate::support::{Store, assert_fails, assert_root, run_on_pty, short, text};

/// The commands that name an image that is not there, with what their error must say.
const UNKNOWN: &[&[&str]] = &[
    &["image", "inspect", "nosuch"],
    &["rmi", "nosuch"],
    &["rmi", "-f", "nosuch:2"],
    &["tag", "nosuch", "other"],
    &["save", "-o", "SAVE", "nosuch"],
    &["image", "history", "nosuch"],
];

fn unknown_images_fail_cleanly(store: &Store) {
    let before = store.contents();
    let ids = store.ids();
    let save = store.path("saved.tar");
    for args in UNKNOWN {
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "SAVE" {
                    save.to_str().unwrap()
                } else {
                    a
                }
            })
            .collect();
        let out = store.run(&args);
        let name = args.iter().find(|a| a.starts_with("nosuch")).unwrap();
        assert_fails(&out, &["image not known", name]);
        assert_eq!(store.contents(), before, "{args:?}");
        assert_eq!(store.ids(), ids, "{args:?}");
    }
    assert!(!save.exists(), "save left {}", save.display());
}

#[test]
fn an_unknown_image_is_an_error_naming_it() {
    let store = Store::new();
    unknown_images_fail_cleanly(&store);
    let out = store.run(&["image", "inspect", "nosuch"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bad_input_leaves_a_loaded_store_as_it_was() {
    assert_root();
    let store = Store::new();
    let id = store.load("busybox", "docker-archive.tar");
    unknown_images_fail_cleanly(&store);
    let before = store.contents();

    for bad in ["bad name", "UPPER case", ""] {
        let out = store.run(&["tag", "busybox", bad]);
        assert_fails(&out, &[bad]);
    }
    // Saving one known and one unknown image writes nothing.
    let save = store.path("partial.tar");
    let out = store.run(&["save", "-o", save.to_str().unwrap(), "busybox", "nosuch"]);
    assert_fails(&out, &["nosuch"]);
    assert!(!save.exists());
    // inspect prints what it found, then fails for what it did not.
    let out = store.run(&["image", "inspect", "busybox", "nosuch"]);
    assert_fails(&out, &["nosuch"]);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found[0]["Id"], id.as_str());

    assert_eq!(store.contents(), before);
    assert_eq!(store.ids(), [short(&id)]);
    assert_eq!(
        store.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "docker.io/library/busybox:latest\n"
    );
}

#[test]
fn loading_what_is_not_an_archive_fails_and_leaves_nothing() {
    let store = Store::new();
    let junk = store.path("junk.tar");
    std::fs::write(&junk, "this is not an image archive\n".repeat(100)).unwrap();
    let out = store.run(&["load", "-i", junk.to_str().unwrap()]);
    assert_fails(&out, &[junk.to_str().unwrap()]);

    // A real tar without a manifest.
    let tar = store.rootfs_tar();
    let out = store.run(&["load", "-i", tar.to_str().unwrap()]);
    assert_fails(&out, &[tar.to_str().unwrap(), "not an image archive"]);
    let out = store.run_with_stdin(&["image", "load"], &std::fs::read(&tar).unwrap());
    assert_fails(&out, &["not an image archive"]);
    // An invalid name is refused before anything is read.
    let out = store.run(&["import", tar.to_str().unwrap(), "bad name"]);
    assert_fails(&out, &["bad name"]);
    let out = store.run_with_stdin(&["load"], b"");
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));

    let missing = store.path("missing.tar");
    let out = store.run(&["load", "-i", missing.to_str().unwrap()]);
    assert_fails(
        &out,
        &[
            "cannot open archive",
            missing.to_str().unwrap(),
            "No such file",
        ],
    );
    let out = store.run(&["import", missing.to_str().unwrap(), "x"]);
    assert_fails(
        &out,
        &["cannot open", missing.to_str().unwrap(), "No such file"],
    );

    store.assert_empty();
}

#[test]
fn save_refuses_a_terminal_and_load_refuses_to_wait_on_one() {
    let store = Store::new();
    let out = run_on_pty(store.command(&["save", "busybox"]), false, b"");
    assert_fails(&out, &["terminal", "-o"]);
    assert!(
        out.stdout.is_empty(),
        "wrote to the terminal: {:?}",
        out.stdout
    );
    let out = run_on_pty(store.command(&["load"]), true, b"");
    assert_fails(&out, &["stdin is a terminal", "-i"]);
}

#[test]
fn usage_errors_exit_125_with_clap_s_message() {
    let store = Store::new();
    let out = store.run(&["images", "--bogus"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    let out = store.run(&["save", "--format", "zip", "x"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    let out = store.run(&["images", "--format", "{{.ID"]);
    assert_fails(&out, &["invalid --format template"]);
    let out = store.run(&["images", "--format", "{{.Nope}}"]);
    // No row: the template is never applied, so nothing to complain about.
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_global_options_come_from_flags_or_the_environment() {
    let store = Store::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peapod"))
        .args(["images", "-q"])
        .env("PEAPOD_ROOT", store.root())
        .env("PEAPOD_RUNROOT", store.path("run"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(store.root().join("peapod.db").exists());
    let run = store.path("run");
    let out = store.ok(&[
        "--runroot",
        run.to_str().unwrap(),
        "--log-level",
        "debug",
        "images",
        "-q",
    ]);
    assert_eq!(out, "");
    let out = store.run(&["--log-level", "loud", "images"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
}
