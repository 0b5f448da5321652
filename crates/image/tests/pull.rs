//! The pull pipeline (manifest, config, layers streamed through blob store, decompression
//! and unpack), fed by a source that serves an OCI layout in small chunks, with faults
//! injected mid-blob. The same pipeline against a real registry is in `registry` tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use peapod_image::Digest;
use peapod_image::manifest::Platform;
use peapod_image::pull::{self, Chunks, Fetched, Quiet, Source};
use peapod_image::store::Store;

fn fixture(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .ancestors()
        .nth(3)
        .unwrap()
        .join("fixtures")
        .join(name)
        .join("oci");
    assert!(dir.is_dir(), "no fixtures: run `cargo xtask fixtures`");
    dir
}

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// The stream fails after this many bytes of the largest layer.
    CutAfter(usize),
    /// One byte of the largest layer is flipped.
    Flip,
}

struct LayoutSource {
    dir: PathBuf,
    fault: Fault,
    blobs_served: AtomicUsize,
}

impl LayoutSource {
    fn new(dir: &Path, fault: Fault) -> Self {
        Self {
            dir: dir.to_path_buf(),
            fault,
            blobs_served: AtomicUsize::new(0),
        }
    }

    fn largest_layer(&self) -> u64 {
        std::fs::read_dir(self.dir.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .max()
            .unwrap()
    }
}

impl Source for LayoutSource {
    async fn manifest(&self, tag_or_digest: &str) -> peapod_image::Result<Fetched> {
        let digest: Digest = match tag_or_digest.parse() {
            Ok(d) => d,
            Err(_) => {
                let index: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap())
                        .unwrap();
                let entry = index["manifests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| {
                        m["annotations"]["org.opencontainers.image.ref.name"] == tag_or_digest
                    })
                    .unwrap();
                entry["digest"].as_str().unwrap().parse().unwrap()
            }
        };
        let bytes = std::fs::read(self.dir.join("blobs/sha256").join(digest.hex())).unwrap();
        Ok(Fetched {
            bytes,
            media_type: None,
            digest,
        })
    }

    async fn blob(&self, digest: &Digest, size: u64) -> peapod_image::Result<Chunks> {
        self.blobs_served.fetch_add(1, Ordering::SeqCst);
        let mut bytes = std::fs::read(self.dir.join("blobs/sha256").join(digest.hex())).unwrap();
        let target = size == self.largest_layer();
        if target && self.fault == Fault::Flip {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
        }
        let cut = match self.fault {
            Fault::CutAfter(n) if target => Some(n),
            _ => None,
        };
        // Odd chunk sizes, as a network delivers them.
        let mut chunks: Vec<io::Result<Bytes>> = Vec::new();
        let mut at = 0;
        let mut step = 1;
        while at < bytes.len() {
            if cut.is_some_and(|c| at >= c) {
                chunks.push(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )));
                break;
            }
            let end = (at + step).min(bytes.len());
            chunks.push(Ok(Bytes::copy_from_slice(&bytes[at..end])));
            at = end;
            step = step * 3 % 7919 + 1;
        }
        Ok(Box::pin(futures_util::stream::iter(chunks)))
    }
}

fn pull(store: &Store, source: &LayoutSource) -> peapod_image::Result<pull::PullReport> {
    pull::pull(
        store,
        source,
        "latest",
        &Platform::host(),
        &["example.com/layered:latest".to_owned()],
        Some("example.com/layered"),
        &Quiet,
    )
}

fn tmp_is_empty(root: &Path) -> bool {
    std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .next()
        .is_none()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pull_stores_every_layer_once_and_a_second_pull_fetches_nothing() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layout = fixture("layered");
    let source = LayoutSource::new(&layout, Fault::None);
    let report = pull(&store, &source).unwrap();
    let loaded = {
        let other = tempfile::tempdir().unwrap();
        let s = Store::open(other.path()).unwrap();
        peapod_image::archive::load_oci_dir(&s, &layout, Some("latest"), None).unwrap()[0]
            .id
            .clone()
    };
    assert_eq!(report.image.id, loaded);
    assert_eq!(report.fetched, report.image.layers.len());
    for layer in &report.image.layers {
        assert!(store.has_layer(&layer.chain_id) && store.has_blob(&layer.blob_digest));
    }
    assert_eq!(
        store.names_of(&report.image.id).unwrap(),
        [
            "example.com/layered:latest".to_owned(),
            format!("example.com/layered@{}", report.digest)
        ]
    );
    let again = LayoutSource::new(&layout, Fault::None);
    let second = pull(&store, &again).unwrap();
    assert_eq!(second.fetched, 0);
    assert_eq!(
        again.blobs_served.load(Ordering::SeqCst),
        1,
        "only the config is fetched again"
    );
    assert!(tmp_is_empty(dir.path()));
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_stream_cut_mid_layer_or_a_flipped_byte_fails_cleanly_and_a_retry_succeeds() {
    assert_root();
    let layout = fixture("layered");
    for (fault, want) in [
        (Fault::CutAfter(1), "connection reset by peer"),
        (Fault::CutAfter(300), "connection reset by peer"),
        (Fault::Flip, "digest mismatch for sha256:"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = pull(&store, &LayoutSource::new(&layout, fault))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
        assert!(
            store.image_ids().unwrap().is_empty(),
            "no image recorded after: {err}"
        );
        assert!(
            tmp_is_empty(dir.path()),
            "nothing half-written left after: {err}"
        );
        let report = pull(&store, &LayoutSource::new(&layout, Fault::None)).unwrap();
        assert!(report.fetched >= 1);
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn two_pulls_of_one_image_at_once_both_succeed_and_leave_one_consistent_copy() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let layout = fixture("layered");
    for round in 0..5 {
        let ids: Vec<Digest> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        // Each as a separate "process": its own store handle and connection.
                        let store = Store::open(dir.path()).unwrap();
                        pull(&store, &LayoutSource::new(&layout, Fault::None))
                            .unwrap()
                            .image
                            .id
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(ids[0], ids[1], "round {round}");
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.image_ids().unwrap(), [ids[0].clone()]);
        let image = store.image(&ids[0]).unwrap().unwrap();
        for layer in &image.layers {
            // Complete and verified: the blob hashes to its digest.
            let bytes = std::fs::read(store.blob_path(&layer.blob_digest)).unwrap();
            assert_eq!(Digest::of(&bytes), layer.blob_digest);
            assert!(store.has_layer(&layer.chain_id));
        }
        assert!(tmp_is_empty(dir.path()), "round {round}");
        // Start the next round from nothing.
        store.remove_image_record(&ids[0]).unwrap();
        store.collect_garbage().unwrap();
    }
}
