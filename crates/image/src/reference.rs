//! Image references (`busybox`, `quay.io:443/a/b:tag`, `name@sha256:…`), parsed and
//! normalised as docker and podman do. Arrives with the images issue.
