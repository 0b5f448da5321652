//! The OCI distribution client: manifests and blobs from a registry, with auth and TLS.
//! Arrives with the images issue.
