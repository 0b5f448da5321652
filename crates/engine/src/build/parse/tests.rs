use super::*;

#[test]
fn continuations_comments_flags_and_forms() {
    let text = "# syntax=docker/dockerfile:1\nFROM busybox AS base\n# a comment\nRUN echo a \\\n  # inside\n  && echo b\nCOPY --chown=1:2 --from=base a b /dst/\nCMD [\"sh\", \"-c\", \"x\"]\n";
    let got = parse(text).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!((got[0].line, got[0].keyword.as_str()), (2, "FROM"));
    assert_eq!(got[1].args, Args::Shell("echo a   && echo b".into()));
    assert_eq!(got[1].line, 4);
    assert_eq!(got[2].flag("chown"), Some("1:2"));
    assert_eq!(got[2].flag("from"), Some("base"));
    assert_eq!(got[2].args.words(), ["a", "b", "/dst/"]);
    assert_eq!(
        got[3].args,
        Args::Exec(vec!["sh".into(), "-c".into(), "x".into()])
    );
}

#[test]
fn the_escape_directive_changes_the_continuation_character() {
    let got = parse("# escape=`\nFROM scratch\nRUN a `\n b\n").unwrap();
    assert_eq!(got[1].args, Args::Shell("a  b".into()));
}

#[test]
fn unknown_instructions_and_flags_name_themselves_and_their_line() {
    let err = parse("FROM busybox\n\nFROBNICATE x\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 3") && err.contains("FROBNICATE"),
        "{err}"
    );
    let err = parse("FROM busybox\nRUN --mount=type=cache,target=/x true\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("--mount"), "{err}");
    let err = parse("FROM busybox\nONBUILD RUN true\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ONBUILD"), "{err}");
    let err = parse("FROM busybox\nRUN <<EOF\necho hi\nEOF\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("heredoc"), "{err}");
    assert!(parse("FROM busybox\nRUN echo 'a<<b' && cat <<< x\n").is_ok());
    let err = parse("FROM busybox\nRUN\n").unwrap_err().to_string();
    assert!(err.contains("RUN needs arguments"), "{err}");
}

#[test]
fn expansion_and_words() {
    let env = |k: &str| match k {
        "A" => Some("1".to_owned()),
        "E" => Some(String::new()),
        _ => None,
    };
    assert_eq!(
        expand("$A-${A}-${B:-x$A}-${A:+y}-${E:-d}-\\$A", 1, &env).unwrap(),
        "1-1-x1-y-d-$A"
    );
    assert!(expand("${A", 1, &env).is_err());
    assert_eq!(
        pairs("a=1 b=\"two words\" c='$x'", 1, "ENV").unwrap(),
        [
            ("a".into(), "1".into()),
            ("b".into(), "two words".into()),
            ("c".into(), "$x".into())
        ]
    );
    assert_eq!(
        pairs("KEY some value", 1, "ENV").unwrap(),
        [("KEY".into(), "some value".into())]
    );
    assert!(pairs("a=1 b", 1, "LABEL").is_err());
}
