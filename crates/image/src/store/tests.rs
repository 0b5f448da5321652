use std::io::Write;

use super::*;
use crate::digest::chain_ids;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

/// An image record whose blobs (config, manifest, one layer) and unpacked layer exist.
fn put_image(store: &Store, seed: &str, names: &[&str]) -> ImageRecord {
    let layer_blob = store
        .put_blob(format!("layer {seed}").as_bytes(), None)
        .unwrap();
    let diff_id = Digest::of(format!("tar {seed}").as_bytes());
    let chain = chain_ids(std::slice::from_ref(&diff_id)).remove(0);
    let staging = store.layer_staging().unwrap();
    std::fs::write(staging.path().join("file"), seed).unwrap();
    staging.commit(&chain).unwrap();
    let config = store
        .put_blob(format!("config {seed}").as_bytes(), None)
        .unwrap();
    let manifest = store
        .put_blob(format!("manifest {seed}").as_bytes(), None)
        .unwrap();
    let record = ImageRecord {
        id: config,
        manifest_digest: manifest,
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        created: None,
        added: 0,
        os: "linux".into(),
        architecture: "amd64".into(),
        layers: vec![ImageLayer {
            blob_digest: layer_blob,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            blob_size: 7,
            diff_id,
            chain_id: chain,
            size: 1024,
        }],
    };
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    store.put_image(&record, &names).unwrap();
    record
}

#[test]
fn a_blob_is_verified_while_written_and_visible_only_once_committed() {
    let (_dir, store) = store();
    let want = Digest::of(b"hello");
    let mut w = store.blob_writer(Some(&want), Some(5)).unwrap();
    w.write_all(b"hel").unwrap();
    assert!(!store.has_blob(&want));
    w.write_all(b"lo").unwrap();
    assert_eq!(w.commit().unwrap(), want);
    assert!(store.has_blob(&want));
    assert_eq!(store.read_blob(&want, 5, "config").unwrap(), b"hello");
    assert!(matches!(
        store.read_blob(&want, 4, "config"),
        Err(StoreError::TooLarge {
            size: 5,
            limit: 4,
            ..
        })
    ));
}

#[test]
fn wrong_content_is_refused_and_leaves_nothing() {
    let (dir, store) = store();
    let want = Digest::of(b"hello");
    let mut w = store.blob_writer(Some(&want), None).unwrap();
    w.write_all(b"jello").unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        err.to_string()
            .contains("digest mismatch for sha256:2cf24dba"),
        "{err}"
    );
    // More bytes than declared fail at the write; fewer fail at commit.
    let mut w = store.blob_writer(None, Some(3)).unwrap();
    assert!(w.write_all(b"hello").is_err());
    drop(w);
    let mut w = store.blob_writer(None, Some(9)).unwrap();
    w.write_all(b"hello").unwrap();
    assert!(matches!(
        w.commit(),
        Err(StoreError::SizeMismatch {
            expected: 9,
            actual: 5,
            ..
        })
    ));
    assert!(!store.has_blob(&want));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_blob_corrupted_on_disk_is_not_trusted_when_read() {
    let (_dir, store) = store();
    let d = store.put_blob(b"{}", None).unwrap();
    std::fs::write(store.blob_path(&d), b"[]").unwrap();
    assert!(matches!(
        store.read_blob(&d, 10, "manifest"),
        Err(StoreError::DigestMismatch { .. })
    ));
}

#[test]
fn a_layer_committed_twice_keeps_one_copy() {
    let (dir, store) = store();
    let chain = Digest::of(b"chain");
    let a = store.layer_staging().unwrap();
    std::fs::write(a.path().join("f"), "a").unwrap();
    let b = store.layer_staging().unwrap();
    std::fs::write(b.path().join("f"), "b").unwrap();
    let path = a.commit(&chain).unwrap();
    assert_eq!(b.commit(&chain).unwrap(), path);
    assert_eq!(std::fs::read_to_string(path.join("f")).unwrap(), "a");
    assert!(store.has_layer(&chain));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn images_are_found_by_name_and_id_prefix_and_names_move() {
    let (_dir, store) = store();
    let a = put_image(
        &store,
        "a",
        &["docker.io/library/a:latest", "docker.io/library/x:1"],
    );
    let b = put_image(&store, "b", &["docker.io/library/b:latest"]);
    assert_eq!(
        store.image(&a.id).unwrap().unwrap(),
        ImageRecord {
            added: store.image(&a.id).unwrap().unwrap().added,
            ..a.clone()
        }
    );
    assert_eq!(
        store.image_by_name("docker.io/library/a:latest").unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(
        store.image_by_id_prefix(a.id.short()).unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(
        store.image_by_id_prefix(&a.id.to_string()).unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(store.image_by_id_prefix("zz").unwrap(), None);
    // Moving a tag, as a pull of a newer image does.
    store.add_name(&b.id, "docker.io/library/x:1").unwrap();
    assert_eq!(
        store.names_of(&a.id).unwrap(),
        ["docker.io/library/a:latest"]
    );
    assert_eq!(
        store.names_of(&b.id).unwrap(),
        ["docker.io/library/b:latest", "docker.io/library/x:1"]
    );
    assert!(store.remove_name("docker.io/library/x:1").unwrap());
    assert!(!store.remove_name("docker.io/library/x:1").unwrap());
    assert!(matches!(
        store.add_name(&Digest::of(b"none"), "n"),
        Err(StoreError::ImageUnknown(_))
    ));
    assert_eq!(store.image_ids().unwrap().len(), 2);
}

#[test]
fn garbage_collection_keeps_what_images_reference_and_removes_the_rest() {
    let (dir, store) = store();
    let a = put_image(&store, "a", &["a"]);
    let b = put_image(&store, "b", &["b"]);
    let stray = store.put_blob(b"stray", None).unwrap();
    std::fs::write(dir.path().join("tmp/blob-crashed"), b"half").unwrap();
    let report = store.collect_garbage().unwrap();
    assert_eq!((report.blobs, report.layers), (1, 0));
    assert!(!store.has_blob(&stray));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert!(store.remove_image_record(&a.id).unwrap());
    let report = store.collect_garbage().unwrap();
    assert_eq!((report.blobs, report.layers), (3, 1));
    assert!(!store.has_layer(&a.layers[0].chain_id));
    assert!(store.has_layer(&b.layers[0].chain_id));
    assert!(store.has_blob(&b.id) && store.has_blob(&b.manifest_digest));
    assert_eq!(store.image_by_name("a").unwrap(), None);
    let df = store.disk_usage().unwrap();
    assert_eq!((df.images, df.layers_size), (1, 1024));
}

#[test]
fn two_stores_on_one_root_see_each_others_writes() {
    let (dir, store) = store();
    let other = Store::open(dir.path()).unwrap();
    let a = put_image(&store, "a", &["a"]);
    assert_eq!(other.image_by_name("a").unwrap(), Some(a.id));
}

#[test]
fn a_database_from_a_newer_peapod_is_refused() {
    let (dir, store) = store();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("peapod.db")).unwrap();
    conn.execute(
        "UPDATE migrations SET version = 99 WHERE component = 'image'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn several_processes_opening_a_new_store_at_once_all_succeed() {
    // Each thread stands for a process: its own connection, racing to create the database,
    // switch it to WAL and migrate it.
    for _ in 0..100 {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| Store::open(dir.path())))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        let store = Store::open(dir.path()).unwrap();
        let version: i64 = store
            .conn()
            .query_row(
                "SELECT version FROM migrations WHERE component = 'image'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 1);
    }
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let images = crate::images::Images::open(dir.path()).unwrap();
    let a = put_image(images.store(), "a", &["docker.io/library/a:latest"]);
    let in_use = |id: &Digest| *id == a.id;
    let err = images.remove("a", false, in_use).unwrap_err().to_string();
    assert!(err.contains("is in use by a container"), "{err}");
    assert!(images.store().image(&a.id).unwrap().is_some());
    let pruned = images.prune(true, in_use).unwrap();
    assert!(pruned.images.is_empty(), "prune -a removed an image in use");
    let report = images.remove("a", true, in_use).unwrap();
    assert_eq!(report.deleted, std::slice::from_ref(&a.id));
    assert!(!images.store().has_layer(&a.layers[0].chain_id));
}
