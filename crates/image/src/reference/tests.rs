use super::*;

const D: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn good_references_normalise_as_docker_does() {
    let cases: &[(&str, &str, &str)] = &[
        // input, Display, familiar
        (
            "busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        (
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "busybox:1.36",
        ),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        (
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        (
            "index.docker.io/library/busybox:1",
            "docker.io/library/busybox:1",
            "busybox:1",
        ),
        (
            "docker.io/library/a/b",
            "docker.io/library/a/b:latest",
            "library/a/b:latest",
        ),
        (
            "localhost/app",
            "localhost/app:latest",
            "localhost/app:latest",
        ),
        (
            "localhost:5000/a/b:v1",
            "localhost:5000/a/b:v1",
            "localhost:5000/a/b:v1",
        ),
        (
            "127.0.0.1:5000/busybox:latest",
            "127.0.0.1:5000/busybox:latest",
            "127.0.0.1:5000/busybox:latest",
        ),
        ("quay.io/a/b", "quay.io/a/b:latest", "quay.io/a/b:latest"),
        (
            "docker.io/a.b/c",
            "docker.io/a.b/c:latest",
            "docker.io/a.b/c:latest",
        ),
        (
            "quay.io",
            "docker.io/library/quay.io:latest",
            "quay.io:latest",
        ),
        ("[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x"),
        ("Registry/app", "Registry/app:latest", "Registry/app:latest"),
        (
            "a.b-c.example:443/x__y/z--w.v_u:Tag_1.0-rc",
            "a.b-c.example:443/x__y/z--w.v_u:Tag_1.0-rc",
            "a.b-c.example:443/x__y/z--w.v_u:Tag_1.0-rc",
        ),
    ];
    for (input, display, familiar) in cases {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), *display, "{input}");
        assert_eq!(r.familiar(), *familiar, "{input}");
    }
}

#[test]
fn parts_tag_and_digest() {
    let r = Reference::parse(&format!("busybox@{D}")).unwrap();
    assert_eq!(r.registry(), "docker.io");
    assert_eq!(r.repository(), "library/busybox");
    assert_eq!(r.tag(), None);
    assert_eq!(r.digest().unwrap().to_string(), D);
    assert_eq!(r.object(), D);
    assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));

    // Both: the digest is what is fetched, the tag is kept.
    let r = Reference::parse(&format!("localhost:5000/app:v2@{D}")).unwrap();
    assert_eq!(r.registry(), "localhost:5000");
    assert_eq!(r.tag(), Some("v2"));
    assert_eq!(r.object(), D);
    assert_eq!(r.familiar(), format!("localhost:5000/app:v2@{D}"));

    let r = Reference::parse("localhost:5000/app").unwrap();
    assert_eq!((r.tag(), r.object().as_str()), (Some("latest"), "latest"));
    assert_eq!(r.name(), "localhost:5000/app");
    let pinned = r.with_digest(D.parse().unwrap());
    assert_eq!(pinned.to_string(), format!("localhost:5000/app:latest@{D}"));
    assert_eq!(
        pinned.with_tag("v3").unwrap().to_string(),
        "localhost:5000/app:v3"
    );
    assert!(matches!(
        r.with_tag("-bad").unwrap_err().cause,
        ReferenceErrorCause::Tag(_)
    ));
}

#[test]
fn bad_references_say_why() {
    use ReferenceErrorCause as C;
    let long_name = format!("a/{}", "b".repeat(NAME_MAX));
    let long_tag = format!("busybox:{}", "t".repeat(TAG_MAX + 1));
    let id = "a".repeat(64);
    type Check = fn(&C) -> bool;
    let cases: Vec<(&str, Check)> = vec![
        ("", |c| matches!(c, C::Empty)),
        (":latest", |c| matches!(c, C::Empty)),
        ("Busybox", |c| matches!(c, C::Uppercase(_))),
        ("user/App", |c| matches!(c, C::Uppercase(_))),
        ("quay.io/User/app", |c| matches!(c, C::Uppercase(_))),
        ("busybox:", |c| matches!(c, C::Tag(_))),
        ("busybox:-x", |c| matches!(c, C::Tag(_))),
        ("busybox:.x", |c| matches!(c, C::Tag(_))),
        ("busybox:a/b", |c| matches!(c, C::Registry(_))),
        ("busybox:a b", |c| matches!(c, C::Tag(_))),
        (&long_tag, |c| matches!(c, C::Tag(_))),
        (&long_name, |c| matches!(c, C::NameTooLong(_))),
        ("busybox@sha256:abc", |c| matches!(c, C::Digest(_))),
        ("busybox@sha512:abc", |c| matches!(c, C::Digest(_))),
        ("busybox@", |c| matches!(c, C::Digest(_))),
        ("a//b", |c| matches!(c, C::PathComponent(_))),
        ("a/", |c| matches!(c, C::PathComponent(_))),
        ("/a", |c| matches!(c, C::PathComponent(_))),
        ("a/-b", |c| matches!(c, C::PathComponent(_))),
        ("a/b-", |c| matches!(c, C::PathComponent(_))),
        ("a/b___c", |c| matches!(c, C::PathComponent(_))),
        ("a/b..c", |c| matches!(c, C::PathComponent(_))),
        ("a/b._c", |c| matches!(c, C::PathComponent(_))),
        ("a/b c", |c| matches!(c, C::PathComponent(_))),
        ("localhost:port/a", |c| matches!(c, C::Registry(_))),
        ("localhost:/a", |c| matches!(c, C::Registry(_))),
        ("-bad.io/a", |c| matches!(c, C::Registry(_))),
        ("bad..io/a", |c| matches!(c, C::Registry(_))),
        ("bad_io.x/a", |c| matches!(c, C::Registry(_))),
        ("[::1/a", |c| matches!(c, C::Registry(_))),
        ("[zz::1]:5000/a", |c| matches!(c, C::Registry(_))),
        ("quay.io:123456/a", |c| matches!(c, C::Registry(_))),
        (&id, |c| matches!(c, C::ImageId)),
        ("busybox@sha256:@", |c| matches!(c, C::Digest(_))),
    ];
    for (input, expect) in cases {
        let err = Reference::parse(input).expect_err(input);
        assert!(expect(&err.cause), "{input:?}: {err}");
        assert_eq!(err.input, input);
        let msg = err.to_string();
        assert!(msg.starts_with("invalid image reference"), "{msg}");
        assert!(msg.contains(&format!("{input:?}")), "{msg}");
    }
}

/// A small deterministic generator (xorshift64*), so that the property test needs no crate
/// and always checks the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[test]
fn property_parse_never_panics_and_display_round_trips() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Random strings over the characters that matter to the grammar.
    let alphabet = b"abcXYZ019._-:/@[]% sha256";
    for _ in 0..20_000 {
        let len = rng.below(40);
        let s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())] as char)
            .collect();
        if let Ok(r) = Reference::parse(&s) {
            assert_eq!(Reference::parse(&r.to_string()), Ok(r.clone()), "{s:?}");
            assert_eq!(Reference::parse(&r.familiar()), Ok(r), "{s:?}");
        }
    }
    // Random well-formed references from parts: every one parses and round-trips.
    let registries = [
        "",
        "localhost/",
        "quay.io/",
        "127.0.0.1:5000/",
        "[::1]:80/",
        "docker.io/",
    ];
    let components = ["a", "b0", "x-y", "x__y", "a.b", "c_d", "e---f", "library"];
    let tags = ["", ":latest", ":1.0", ":_x", ":A-b.C"];
    let digests = [
        "",
        "@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ];
    for _ in 0..5_000 {
        let mut s = rng.pick(&registries).to_owned();
        for i in 0..1 + rng.below(3) {
            if i > 0 {
                s.push('/');
            }
            s.push_str(rng.pick(&components));
        }
        s.push_str(rng.pick(&tags));
        s.push_str(rng.pick(&digests));
        let r = Reference::parse(&s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(Reference::parse(&r.to_string()), Ok(r.clone()), "{s:?}");
        assert_eq!(Reference::parse(&r.familiar()), Ok(r), "{s:?}");
    }
}
