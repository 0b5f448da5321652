//! `builder prune`: entries no tagged image reaches go (all with `-a`), the next build runs
//! their RUNs again, images still run, and the store keeps no blob or layer nothing uses;
//! `system df` counts the cache and `system prune` includes it.

use crate::support::{Engine, IMAGE};
use crate::{assert_clean, build_ok, context, run_ok};

/// The names in `ROOT/<dir>`, sorted.
fn names(e: &Engine, dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(e.root().join(dir))
        .map(|d| {
            d.flatten()
                .map(|x| x.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The blobs the base image and `images` reference: those an OCI archive of them holds.
fn referenced(e: &Engine, images: &[&str]) -> Vec<String> {
    let archive = e.tmp.path().join("referenced.tar");
    let path = archive.to_str().unwrap();
    let mut args = vec!["save", "--format", "oci-archive", "-o", path, IMAGE];
    args.extend_from_slice(images);
    e.ok(&args);
    let mut saved: Vec<String> = tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
        .filter_map(|x| {
            let path = x.unwrap().path().unwrap().display().to_string();
            path.strip_prefix("blobs/sha256/").map(str::to_owned)
        })
        .filter(|n| !n.is_empty())
        .collect();
    saved.sort();
    saved.dedup();
    std::fs::remove_file(&archive).unwrap();
    saved
}

/// `system df`'s build cache row: (entries, active, bytes).
fn cache_row(e: &Engine) -> (u64, u64, u64) {
    let rows: serde_json::Value =
        serde_json::from_str(&e.ok(&["system", "df", "--format", "json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Type"] == "Build Cache")
        .cloned()
        .unwrap_or_else(|| panic!("no Build Cache row: {rows}"));
    (
        row["TotalCount"].as_u64().unwrap(),
        row["Active"].as_u64().unwrap(),
        row["RawSize"].as_u64().unwrap(),
    )
}

#[test]
#[ignore = "root: cargo xtask test"]
fn builder_prune_removes_what_no_tagged_image_reaches_and_all_with_a() {
    let e = Engine::new();
    let base_blobs = names(&e, "blobs/sha256");
    // A side stage only copied from: its RUN's layer is in no image (`/side-only` makes it
    // differ from the layer of the COPY --from).
    let ctx = context(
        &e,
        "prune",
        &[
            ("a.txt", "a"),
            (
                "Containerfile",
                &format!(
                    "FROM {IMAGE} AS side\nRUN cat /proc/sys/kernel/random/uuid > /side-id && touch /side-only\n\
                     FROM {IMAGE}\nCOPY a.txt /a.txt\nRUN cat /proc/sys/kernel/random/uuid > /run-id\n\
                     COPY --from=side /side-id /side-id\n"
                ),
            ),
        ],
    );
    let ids = |image: &str| run_ok(&e, image, &["cat", "/run-id", "/side-id"]);
    build_ok(&e, &["-t", "p1", ctx.to_str().unwrap()]);
    let first = ids("p1");
    let (total, active, size) = cache_row(&e);
    assert_eq!(total, 4, "RUN, COPY, RUN, COPY");
    assert_eq!(active, 3, "the side stage's RUN is in no image");
    assert!(size > 0);

    let only_cached = names(&e, "blobs/sha256").len() - referenced(&e, &["p1"]).len();
    assert_eq!(
        only_cached, 1,
        "the side stage's layer is the cache's alone"
    );
    let layers = names(&e, "layers").len();

    // Without -a: the side stage's entry (and its layer) goes, the rest stays.
    let out = e.ok(&["builder", "prune", "-f"]);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert_eq!(out.lines().filter(|l| l.len() == 25).count(), 1, "{out}");
    assert_eq!(cache_row(&e).0, 3);
    assert_eq!(names(&e, "blobs/sha256"), referenced(&e, &["p1"]));
    assert_eq!(
        names(&e, "layers").len(),
        layers - 1,
        "its unpacked layer went too"
    );
    let second_out = build_ok(&e, &["-t", "p2", ctx.to_str().unwrap()]);
    let second = ids("p2");
    let (run1, side1) = first.split_once('\n').unwrap();
    let (run2, side2) = second.split_once('\n').unwrap();
    assert_eq!(run1, run2, "the main stage's RUN was reused: {second_out}");
    assert_ne!(side1, side2, "the side stage's RUN ran again: {second_out}");

    // With -a: every entry goes; the images keep their layers and still run.
    let out = e.ok(&["builder", "prune", "-a", "-f"]);
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(names(&e, "build-cache"), Vec::<String>::new());
    assert_eq!(cache_row(&e).0, 0);
    assert_eq!(ids("p1"), first);
    assert_eq!(ids("p2"), second);
    assert_eq!(names(&e, "blobs/sha256"), referenced(&e, &["p1", "p2"]));
    build_ok(&e, &["-t", "p3", ctx.to_str().unwrap()]);
    let third = ids("p3");
    assert_ne!(
        third.lines().next(),
        Some(run1),
        "the RUN ran again after prune -a"
    );

    // Nothing is asked without -f when stdin is no terminal: refused, nothing removed.
    let out = e.run(&["builder", "prune"]);
    assert_eq!(
        out.status.code(),
        Some(125),
        "{}",
        crate::support::text(&out)
    );
    assert_eq!(cache_row(&e).0, 4);

    // Without its images, the cache's layers are gone from the store: only the base
    // image's blobs are left. `system prune -a` takes the (now dangling) entries with the
    // images: nothing is left in the store.
    e.ok(&["rmi", "p1", "p2", "p3"]);
    assert_eq!(names(&e, "blobs/sha256"), base_blobs);
    let out = e.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("Deleted build cache objects:\n"), "{out}");
    assert_eq!(names(&e, "build-cache"), Vec::<String>::new());
    assert_eq!(names(&e, "blobs/sha256"), Vec::<String>::new(), "{out}");
    assert_eq!(names(&e, "layers"), Vec::<String>::new());
    assert_clean(&e);
}
