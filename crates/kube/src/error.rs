//! `peapod-kube`'s error type: each message names the document, the object and the field.

/// What can go wrong reading or writing a manifest.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The text is not YAML.
    #[error("{file}: document {document}: not valid YAML: {cause}")]
    Yaml {
        /// The file, as named by the caller.
        file: String,
        /// Which document (from 1).
        document: usize,
        /// The parser's message (with its line and column), in this message (not a
        /// `source()`, so that a printed chain says it once).
        cause: serde_yaml_ng::Error,
    },
    /// A document has no `kind`/`apiVersion`, or one that is not Pod (v1) or Deployment
    /// (apps/v1).
    #[error(
        "{file}: document {document}: kind {kind:?} ({api_version:?}) is not supported: only Pod (v1) and Deployment (apps/v1) are"
    )]
    UnsupportedKind {
        /// The file.
        file: String,
        /// Which document (from 1).
        document: usize,
        /// Its `kind`.
        kind: String,
        /// Its `apiVersion`.
        api_version: String,
    },
    /// Fields that peapod does not implement (a typo is one too): never ignored unless
    /// `--lenient`.
    #[error(
        "{file}: {kind} {name:?}: unsupported field{}: {} (use --lenient to ignore them with a warning)",
        if fields.len() == 1 { "" } else { "s" },
        fields.join(", ")
    )]
    Unsupported {
        /// The file.
        file: String,
        /// `Pod` or `Deployment`.
        kind: String,
        /// Its `metadata.name`.
        name: String,
        /// The fields' paths (`spec.containers[0].lifecycle`).
        fields: Vec<String>,
    },
    /// A field has a value Kubernetes or peapod refuses.
    #[error("{file}: {kind} {name:?}: {field}: {why}")]
    Invalid {
        /// The file.
        file: String,
        /// `Pod` or `Deployment`.
        kind: String,
        /// Its `metadata.name`.
        name: String,
        /// The field's path.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// A plan that a manifest cannot express (`kube generate`).
    #[error("pod {pod}: cannot write {what} into a manifest: {why}")]
    Unrepresentable {
        /// The pod.
        pod: String,
        /// What.
        what: String,
        /// Why.
        why: String,
    },
    /// The manifest could not be written out.
    #[error("pod {pod}: cannot write the manifest: {cause}")]
    Write {
        /// The pod.
        pod: String,
        /// The cause (in this message).
        cause: serde_yaml_ng::Error,
    },
}
