use super::*;

fn d(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

fn manifest_json(media_type: &str, layer_type: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{media_type}",
        "config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":2}},
        "layers":[{{"mediaType":"{layer_type}","digest":"{}","size":3}}]}}"#,
        d("c"),
        d("l")
    )
}

fn index_json(platforms: &[&str]) -> String {
    let entries: Vec<String> = platforms
        .iter()
        .map(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            let variant = parts
                .get(2)
                .map(|v| format!(r#","variant":"{v}""#))
                .unwrap_or_default();
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"{}","architecture":"{}"{variant}}}}}"#,
                d(p),
                parts[0],
                parts[1]
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    )
}

#[test]
fn oci_and_docker_manifests_and_indexes_parse() {
    for (mt, layer) in [
        (OCI_MANIFEST, OCI_LAYER_GZIP),
        (DOCKER_MANIFEST, DOCKER_LAYER_GZIP),
    ] {
        let doc = parse_document(manifest_json(mt, layer).as_bytes(), None, &d("m")).unwrap();
        let Document::Manifest(m) = doc else {
            panic!("not a manifest")
        };
        assert_eq!(descriptor_digest(&m.layers()[0], "layer").unwrap(), d("l"));
    }
    let doc = parse_document(index_json(&["linux/amd64"]).as_bytes(), None, &d("i")).unwrap();
    assert!(matches!(doc, Document::Index(_)));
    // No mediaType field: the header decides, then the shape.
    let bare = manifest_json(OCI_MANIFEST, OCI_LAYER)
        .replace(&format!(r#""mediaType":"{OCI_MANIFEST}","#), "");
    assert!(matches!(
        parse_document(bare.as_bytes(), Some(OCI_MANIFEST), &d("m")).unwrap(),
        Document::Manifest(_)
    ));
    assert!(matches!(
        parse_document(bare.as_bytes(), None, &d("m")).unwrap(),
        Document::Manifest(_)
    ));
}

#[test]
fn bad_documents_are_refused_with_the_digest_and_cause() {
    let m = d("m");
    let cases = [
        ("{", "invalid manifest"),
        (r#"{"schemaVersion":1,"name":"x"}"#, "schemaVersion 1"),
        (
            &manifest_json(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                OCI_LAYER,
            ),
            "unsupported media type",
        ),
        (
            &manifest_json(
                OCI_MANIFEST,
                "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            ),
            "layer sha256:",
        ),
        (
            &manifest_json(OCI_MANIFEST, OCI_LAYER).replace(&d("l").to_string(), "sha512:00"),
            "Invalid digest",
        ),
        (
            &manifest_json(OCI_MANIFEST, OCI_LAYER)
                .replace(&d("l").to_string(), &format!("sha512:{}", "a".repeat(128))),
            "layer descriptor has digest \"sha512:aaaa",
        ),
    ];
    for (text, want) in cases {
        let err = parse_document(text.as_bytes(), None, &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn the_host_platform_and_variants_are_chosen_as_docker_does() {
    let bytes = index_json(&[
        "linux/arm64/v8",
        "linux/amd64",
        "linux/arm/v7",
        "linux/arm/v6",
    ]);
    let Document::Index(index) = parse_document(bytes.as_bytes(), None, &d("i")).unwrap() else {
        panic!()
    };
    let pick = |p: &str| {
        descriptor_digest(
            select_platform(&index, &p.parse().unwrap(), &d("i")).unwrap(),
            "manifest",
        )
        .unwrap()
    };
    assert_eq!(pick("linux/amd64"), d("linux/amd64"));
    assert_eq!(pick("linux/arm64"), d("linux/arm64/v8"));
    assert_eq!(pick("linux/arm/v6"), d("linux/arm/v6"));
    let err = select_platform(&index, &"linux/s390x".parse().unwrap(), &d("i"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no image for platform linux/s390x"), "{err}");
    assert!(
        err.contains("linux/arm64/v8, linux/amd64, linux/arm/v7"),
        "{err}"
    );
    assert_eq!(Platform::host().to_string(), "linux/amd64");
    for bad in ["linux", "linux/", "/amd64", "Linux/amd64", "a/b/c/d"] {
        assert!(bad.parse::<Platform>().is_err(), "{bad}");
    }
}

#[test]
fn a_config_must_list_one_diff_id_per_layer() {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        d("t")
    );
    let (_, ids) = parse_config(config.as_bytes(), &d("c"), 1).unwrap();
    assert_eq!(ids, [d("t")]);
    let err = parse_config(config.as_bytes(), &d("c"), 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lists 1 diff_ids but the manifest has 2 layers"),
        "{err}"
    );
}

/// A seeded xorshift, so that the mutation test is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bounded fuzzing: 20,000 mutations (byte flips, cuts, splices of JSON tokens) of valid
/// manifests, indexes and configs never panic the parsers, and whatever parses still
/// satisfies the checks (known layer media types, sha256 digests, one diff_id per layer).
#[test]
fn mutated_documents_never_panic_and_what_parses_is_checked() {
    let seeds = [
        manifest_json(OCI_MANIFEST, OCI_LAYER_GZIP),
        manifest_json(DOCKER_MANIFEST, DOCKER_LAYER_GZIP),
        index_json(&["linux/amd64", "linux/arm64/v8"]),
        format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{"Cmd":["sh"]}}}}"#,
            d("t")
        ),
    ];
    let tokens: [&[u8]; 12] = [
        b"null",
        b"[]",
        b"{}",
        b"\"\"",
        b"-1",
        b"1e999",
        b"\"sha256:\"",
        b",",
        b":",
        b"\\u0000",
        b"\"application/vnd.oci.image.index.v1+json\"",
        b"18446744073709551616",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let platform = Platform::host();
    for i in 0..20_000 {
        let mut doc = seeds[i % seeds.len()].clone().into_bytes();
        for _ in 0..=rng.below(4) {
            if doc.is_empty() {
                break;
            }
            let at = rng.below(doc.len());
            match rng.below(4) {
                0 => doc[at] ^= 1 << rng.below(8),
                1 => doc.truncate(at),
                2 => {
                    let t = tokens[rng.below(tokens.len())];
                    doc.splice(at..at, t.iter().copied());
                }
                _ => {
                    let end = (at + rng.below(16)).min(doc.len());
                    doc.drain(at..end);
                }
            }
        }
        match parse_document(&doc, None, &d("m")) {
            Ok(Document::Manifest(m)) => {
                for l in m.layers() {
                    assert!(is_layer_media_type(l.media_type().as_ref()));
                    descriptor_digest(l, "layer").unwrap();
                }
            }
            Ok(Document::Index(index)) => {
                let _ = select_platform(&index, &platform, &d("i"));
            }
            Err(_) => {}
        }
        if let Ok((_, ids)) = parse_config(&doc, &d("c"), 1) {
            assert_eq!(ids.len(), 1);
        }
    }
}
