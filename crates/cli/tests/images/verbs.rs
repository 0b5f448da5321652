//! Each verb on the fixtures: what it prints and what it does to the store.

use serde_json::Value;

use crate::support::{
    Store, assert_fails, assert_root, fixture, fixture_id, gzip, run_on_pty, short, skopeo_id, text,
};

const BUSYBOX: &str = "docker.io/library/busybox";

#[test]
#[ignore = "root: cargo xtask test"]
fn every_archive_form_loads_from_a_file_or_stdin_and_lists() {
    assert_root();
    for name in ["busybox", "layered"] {
        let want = fixture_id(name);
        let scratch = Store::new();
        let gz = scratch.path("archive.tar.gz");
        gzip(&fixture(name, "docker-archive.tar"), &gz);
        // Every form for busybox; for the layered image (the slow one to unpack in the
        // emulated guest of vm-test) one per archive format.
        let forms: &[(&str, &str)] = if name == "busybox" {
            &[
                ("file", "docker-archive.tar"),
                ("file", "oci-archive.tar"),
                ("stdin", "docker-archive.tar"),
                ("stdin", "oci-archive.tar"),
                ("file", "gz"),
                ("stdin", "gz"),
            ]
        } else {
            &[("file", "oci-archive.tar"), ("stdin", "gz")]
        };
        for &(how, form) in forms {
            let store = Store::new();
            let path = if form == "gz" {
                gz.clone()
            } else {
                fixture(name, form)
            };
            let out = if how == "file" {
                store.run(&["load", "-i", path.to_str().unwrap()])
            } else {
                store.run_with_stdin(&["load"], &std::fs::read(&path).unwrap())
            };
            assert!(out.status.success(), "{name} {form} {how}: {}", text(&out));
            let printed = String::from_utf8(out.stdout).unwrap();
            assert!(
                printed == format!("Loaded image: docker.io/library/{name}:latest\n")
                    || printed == format!("Loaded image ID: {want}\n"),
                "{name} {form} {how}: {printed}"
            );
            assert_eq!(store.ids(), [short(&want)], "{name} {form} {how}");
            assert!(store.contents().tmp.is_empty(), "{name} {form} {how}");
        }
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn images_prints_a_table_json_and_templates() {
    assert_root();
    let store = Store::new();
    let id = store.load("busybox", "docker-archive.tar");
    let layered = store.load("layered", "oci-archive.tar");

    let table = store.ok(&["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{table}"
    );
    let row = |repo: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(repo))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no {repo} row in {table}"))
    };
    let busybox = row(BUSYBOX);
    assert_eq!(busybox[1], "latest");
    assert_eq!(busybox[2], short(&id));
    // The fixtures say they were made in 2000; sizes as docker prints them.
    assert_eq!(&busybox[3..6], ["26", "years", "ago"], "{table}");
    assert!(busybox[6].ends_with("MB"), "{table}");
    let dangling = row("<none>");
    assert_eq!(dangling[1], "<none>");
    assert_eq!(dangling[2], short(&layered));
    // The columns line up: every cell starts where its header does.
    let at = lines[0].find("IMAGE ID").unwrap();
    for line in &lines[1..] {
        assert_eq!(
            &line[at..at + 12],
            short(if line.starts_with('<') { &layered } else { &id })
        );
    }

    let mut quiet = store.ids();
    quiet.sort();
    let mut want = vec![short(&id), short(&layered)];
    want.sort();
    assert_eq!(quiet, want);

    let json: Value = serde_json::from_str(&store.ok(&["images", "--format", "json"])).unwrap();
    let images = json.as_array().unwrap();
    assert_eq!(images.len(), 2);
    let bb = images.iter().find(|i| i["Id"] == id.as_str()).unwrap();
    assert_eq!(
        bb["RepoTags"],
        serde_json::json!([format!("{BUSYBOX}:latest")])
    );
    assert!(bb["Size"].as_u64().unwrap() > 1_000_000);
    assert_eq!(bb["Created"], 946_684_800);

    let templated = store.ok(&["images", "--format", "{{.ID}}\\t{{.Repository}}:{{.Tag}}"]);
    assert!(
        templated.contains(&format!("{}\t{BUSYBOX}:latest\n", short(&id))),
        "{templated}"
    );
    let table = store.ok(&[
        "images",
        "--format",
        "table {{.Repository}}\\t{{.Size}}",
        "busybox",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("REPOSITORY ") && lines[0].ends_with("SIZE"),
        "{table}"
    );
    assert!(lines[1].starts_with(BUSYBOX), "{table}");

    let full = store.ok(&["images", "--no-trunc", "--digests", "busybox:latest"]);
    assert!(full.lines().next().unwrap().contains("DIGEST"), "{full}");
    assert!(full.contains(&id), "{full}");
    assert_eq!(store.ok(&["images", "-q", "busybox:1"]), "");
    assert_eq!(
        store.ok(&["image", "list", "-a", "-q", "busybox"]),
        short(&id) + "\n"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn inspect_and_history_describe_the_image() {
    assert_root();
    let store = Store::new();
    let id = store.load("layered", "docker-archive.tar");
    let json: Value = serde_json::from_str(&store.ok(&["image", "inspect", &id])).unwrap();
    let doc = &json[0];
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(doc["Id"], id.as_str());
    assert_eq!(doc["Os"], "linux");
    assert_eq!(doc["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(doc["Created"], "2000-01-01T00:00:00Z");
    let by_prefix = store.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{len .RootFS.Layers}}",
        &short(&id),
    ]);
    assert_eq!(by_prefix, format!("{id} 3\n"));

    let history = store.ok(&["image", "history", &id]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 4, "{history}");
    assert!(
        lines[0].starts_with("IMAGE ") && lines[0].contains("CREATED BY"),
        "{history}"
    );
    assert!(lines[1].starts_with(&short(&id)), "{history}");
    assert!(
        lines[2].starts_with("<missing>") && lines[3].starts_with("<missing>"),
        "{history}"
    );
    // The bottom layer is busybox's rootfs: its size is the largest, in MB.
    assert!(lines[3].contains("MB"), "{history}");
    for line in &lines[1..] {
        assert!(line.contains("26 years ago"), "{history}");
    }
    let quiet = store.ok(&["image", "history", "-q", "--no-trunc", &id]);
    assert_eq!(quiet, format!("{id}\n<missing>\n<missing>\n"));
    let created_by = store.ok(&[
        "image",
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        &id,
    ]);
    let want: Vec<String> = doc["History"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_owned() + "\n")
        .collect();
    assert_eq!(created_by, want.concat());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn tag_adds_a_name_and_rmi_untags_then_deletes() {
    assert_root();
    let store = Store::new();
    let id = store.load("busybox", "docker-archive.tar");
    assert_eq!(store.ok(&["tag", "busybox", "example.com/team/box:1"]), "");
    assert_eq!(store.ok(&["image", "tag", &short(&id), "box2"]), "");
    let table = store.ok(&["images"]);
    for repo in [BUSYBOX, "example.com/team/box", "docker.io/library/box2"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(repo) && l.contains(&short(&id))),
            "{table}"
        );
    }
    assert_eq!(store.ids(), [short(&id)], "one image, three names");

    // By id, an image with several names is refused without -f, and stays.
    let out = store.run(&["rmi", &id]);
    assert_fails(&out, &[&id, "several names", "--force"]);
    assert_eq!(store.ids(), [short(&id)]);

    assert_eq!(
        store.ok(&["rmi", "box2"]),
        "Untagged: docker.io/library/box2:latest\n"
    );
    assert_eq!(
        store.ok(&["image", "rm", "example.com/team/box:1"]),
        "Untagged: example.com/team/box:1\n"
    );
    let before = store.contents();
    assert!(!before.blobs.is_empty() && !before.layers.is_empty());
    assert_eq!(
        store.ok(&["rmi", "busybox"]),
        format!("Untagged: {BUSYBOX}:latest\nDeleted: {id}\n")
    );
    assert!(store.ids().is_empty());
    let after = store.contents();
    assert!(after.blobs.is_empty(), "{after:?}");
    assert!(after.layers.is_empty(), "{after:?}");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn rmi_force_by_id_removes_every_name_and_goes_on_past_a_failure() {
    assert_root();
    let store = Store::new();
    let id = store.load("busybox", "docker-archive.tar");
    store.ok(&["tag", "busybox", "other:1"]);
    let out = store.run(&["rmi", "-f", "nosuch", &short(&id)]);
    assert_fails(&out, &["nosuch"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Untagged: {BUSYBOX}:latest\nUntagged: docker.io/library/other:1\nDeleted: {id}\n")
    );
    assert!(store.ids().is_empty());
    assert!(store.contents().blobs.is_empty());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn save_writes_archives_that_skopeo_reads_and_load_gives_back() {
    assert_root();
    let store = Store::new();
    let id = store.load("layered", "docker-archive.tar");
    store.ok(&["tag", &id, "example.com/layered:1"]);
    for format in ["docker-archive", "oci-archive"] {
        let file = store.path(&format!("{format}.tar"));
        let out = store.ok(&[
            "save",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "example.com/layered:1",
        ]);
        assert_eq!(out, "");
        assert_eq!(
            skopeo_id(&format!("{format}:{}", file.display())),
            id,
            "{format}"
        );
        let fresh = Store::new();
        let loaded = fresh.ok(&["load", "-i", file.to_str().unwrap()]);
        assert_eq!(loaded, "Loaded image: example.com/layered:1\n", "{format}");
        assert_eq!(fresh.ids(), [short(&id)], "{format}");
    }
    // To stdout (a pipe), the default format.
    let out = store.run(&["image", "save", "example.com/layered:1"]);
    assert!(out.status.success(), "{}", text(&out));
    let file = store.path("stdout.tar");
    std::fs::write(&file, &out.stdout).unwrap();
    assert_eq!(skopeo_id(&format!("docker-archive:{}", file.display())), id);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn podman_loads_what_save_wrote_with_the_same_id() {
    assert_root();
    let store = Store::new();
    let id = store.load("layered", "docker-archive.tar");
    // A private podman store: vfs needs nothing of the host (no overlay on overlay).
    let podman = |args: &[&str]| {
        let out = std::process::Command::new("podman")
            .arg("--root")
            .arg(store.path("podman"))
            .arg("--runroot")
            .arg(store.path("podman-run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    for format in ["docker-archive", "oci-archive"] {
        let file = store.path(&format!("{format}.tar"));
        let path = file.to_str().unwrap();
        store.ok(&["save", "--format", format, "-o", path, "layered"]);
        podman(&["load", "-q", "-i", path]);
    }
    let ids = podman(&["images", "-q", "--no-trunc"]);
    assert!(
        !ids.is_empty() && ids.lines().all(|l| l == id),
        "podman: {ids}, peapod: {id}"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn import_makes_a_one_layer_image_from_a_tar_or_stdin() {
    assert_root();
    let store = Store::new();
    let tar = store.rootfs_tar();
    let printed = store.ok(&["import", tar.to_str().unwrap(), "imported:1"]);
    let id = printed.trim().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{printed}");
    let row = store.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(
        row,
        format!("docker.io/library/imported:1 {}\n", short(&id))
    );
    let layers = store.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "imported:1",
    ]);
    assert_eq!(layers, "1\n");

    let gz = store.path("rootfs.tar.gz");
    gzip(&tar, &gz);
    let out = store.run_with_stdin(&["image", "import", "-"], &std::fs::read(&gz).unwrap());
    assert!(out.status.success(), "{}", text(&out));
    let unnamed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(store.ids().contains(&short(&unnamed)));
    assert!(store.contents().tmp.is_empty());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn prune_removes_dangling_images_then_all_and_asks_first() {
    assert_root();
    let store = Store::new();
    let busybox = store.load("busybox", "docker-archive.tar");
    let dangling = store.load("layered", "oci-archive.tar");

    // Not a terminal and no -f: refused, nothing removed.
    let out = store.run(&["image", "prune"]);
    assert_fails(&out, &["confirmation", "--force"]);
    assert_eq!(store.ids().len(), 2);

    // On a terminal, "n" keeps everything; "y" prunes.
    let out = run_on_pty(store.command(&["image", "prune"]), true, b"n\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Are you sure you want to continue? [y/N]")
    );
    assert_eq!(store.ids().len(), 2);
    let out = run_on_pty(store.command(&["image", "prune"]), true, b"y\n");
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!("deleted: {dangling}")),
        "{printed}"
    );
    assert!(printed.contains("Total reclaimed space: "), "{printed}");
    assert_eq!(store.ids(), [short(&busybox)]);

    let out = store.ok(&["image", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = store.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Images:\ndeleted: {busybox}\n")),
        "{out}"
    );
    store.assert_empty();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn system_df_counts_the_images_and_their_size() {
    assert_root();
    let store = Store::new();
    let empty = store.ok(&["system", "df"]);
    assert!(
        empty.lines().nth(1).unwrap().starts_with("Images "),
        "{empty}"
    );
    store.load("busybox", "docker-archive.tar");
    store.load("layered", "oci-archive.tar");
    let table = store.ok(&["system", "df"]);
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&row[..3], ["Images", "2", "0"], "{table}");
    assert!(row[3].ends_with("MB") && row[5] == "(100%)", "{table}");
    let json: Value =
        serde_json::from_str(&store.ok(&["system", "df", "--format", "json"])).unwrap();
    assert_eq!(json[0]["Type"], "Images");
    assert_eq!(json[0]["Total"], 2);
    let blobs: u64 = store
        .contents()
        .blobs
        .iter()
        .map(|b| {
            std::fs::metadata(store.root().join("blobs/sha256").join(b))
                .unwrap()
                .len()
        })
        .sum();
    assert!(json[0]["RawSize"].as_u64().unwrap() > blobs, "{json}");
}
