//! The content store: blobs by digest, references in SQLite, unpacked layers by chain id.
//! Arrives with the images issue.
