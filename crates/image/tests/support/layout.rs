//! OCI layouts made for tests: an index of two platforms, an image with one large layer.

use std::path::Path;

use peapod_image::Digest;
use peapod_image::registry::{OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};

/// The blob `digest` of layout `dir`.
pub fn read_blob(dir: &Path, digest: &Digest) -> Vec<u8> {
    std::fs::read(dir.join("blobs/sha256").join(digest.hex())).unwrap()
}

/// Writes `bytes` as a blob of layout `dir`; returns its descriptor fields.
pub fn write_blob(dir: &Path, bytes: &[u8]) -> (Digest, usize) {
    let d = Digest::of(bytes);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    (d, bytes.len())
}

/// The manifest digest tagged `tag` in layout `dir`'s index.json.
pub fn tagged(dir: &Path, tag: &str) -> Digest {
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    entry["digest"].as_str().unwrap().parse().unwrap()
}

fn new_layout(dst: &Path) {
    std::fs::create_dir_all(dst.join("blobs/sha256")).unwrap();
    std::fs::write(dst.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn write_index(dst: &Path, tag: &str, media_type: &str, digest: &Digest, size: usize) {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": media_type, "digest": digest.to_string(), "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dst.join("index.json"), index.to_string()).unwrap();
}

/// The digests of a two-platform image.
pub struct TwoPlatforms {
    pub index: Digest,
    pub amd64: Digest,
    pub arm64: Digest,
}

/// Makes layout `dst` with tag `multi`: an OCI index of `src`'s `latest` image (amd64) and a
/// copy of it whose config says arm64 (same layers).
pub fn two_platforms(src: &Path, dst: &Path) -> TwoPlatforms {
    new_layout(dst);
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dst.join("blobs/sha256").join(entry.file_name()),
        )
        .unwrap();
    }
    let amd64 = tagged(src, "latest");
    let manifest_bytes = read_blob(src, &amd64);
    let mut manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let config_digest: Digest = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut config: Value = serde_json::from_slice(&read_blob(src, &config_digest)).unwrap();
    config["architecture"] = json!("arm64");
    config["variant"] = json!("v8");
    let (cd, cs) = write_blob(dst, config.to_string().as_bytes());
    manifest["config"]["digest"] = json!(cd.to_string());
    manifest["config"]["size"] = json!(cs);
    let (arm64, arm64_size) = write_blob(dst, manifest.to_string().as_bytes());
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd64.to_string(), "size": manifest_bytes.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm64.to_string(), "size": arm64_size,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        ],
    });
    let (index_digest, index_size) = write_blob(dst, index.to_string().as_bytes());
    write_index(dst, "multi", OCI_INDEX, &index_digest, index_size);
    TwoPlatforms {
        index: index_digest,
        amd64,
        arm64,
    }
}

/// Makes layout `dst` with tag `big`: one image whose single layer is a tar holding one file
/// of `size` bytes of incompressible data, in a gzip stream of stored blocks (so skopeo
/// pushes it unchanged and fast, and it unpacks). Returns (manifest digest, layer digest).
pub fn big_layer(dst: &Path, size: usize) -> (Digest, Digest) {
    new_layout(dst);
    // One MiB of xorshift output, repeated: enough that nothing on the way shrinks it.
    let mut state = 0x243f_6a88_85a3_08d3_u64;
    let block: Vec<u8> = (0..(1 << 20) / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    let mut data = block.repeat(size.div_ceil(block.len()));
    data.truncate(size);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "big.bin", &data[..]).unwrap();
    let data = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, &data).unwrap();
    let diff_id = Digest::of(&data);
    let (layer, layer_size) = write_blob(dst, &gz.finish().unwrap());
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    let (cd, cs) = write_blob(dst, config.to_string().as_bytes());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": layer_size}],
    });
    let (md, ms) = write_blob(dst, manifest.to_string().as_bytes());
    write_index(dst, "big", OCI_MANIFEST, &md, ms);
    (md, layer)
}
