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
