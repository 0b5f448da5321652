//! A test CA, a server certificate for 127.0.0.1/localhost signed by it, and a token signing
//! key whose certificate it also signs (what a registry's `auth.token.rootcertbundle` trusts).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType,
};

/// A CA and what it signed, as PEM files under `dir`.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA certificate (PEM).
    pub ca_crt: PathBuf,
    /// The server certificate (PEM), for 127.0.0.1 and localhost.
    pub server_crt: PathBuf,
    /// The server key (PEM, PKCS#8).
    pub server_key: PathBuf,
    /// The token signing key (PKCS#8 DER, ECDSA P-256).
    pub token_key_pkcs8: Vec<u8>,
    /// The token signing certificate (DER), signed by the CA.
    pub token_cert_der: Vec<u8>,
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

impl Pki {
    /// Makes the CA and certificates in `dir` (created if missing).
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name = name("peapod test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name = name("127.0.0.1");
        let server_cert = params.signed_by(&server_key, &issuer).unwrap();

        let token_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = name("peapod test token issuer");
        let token_cert = params.signed_by(&token_key, &issuer).unwrap();

        let pki = Pki {
            dir: dir.to_owned(),
            ca_crt: dir.join("ca.crt"),
            server_crt: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            token_key_pkcs8: token_key.serialize_der(),
            token_cert_der: token_cert.der().to_vec(),
        };
        std::fs::write(&pki.ca_crt, ca_cert.pem()).unwrap();
        std::fs::write(&pki.server_crt, server_cert.pem()).unwrap();
        std::fs::write(&pki.server_key, server_key.serialize_pem()).unwrap();
        pki
    }

    /// A certs.d tree trusting this CA for `host` (`DIR/certs.d/HOST/ca.crt`); returns the
    /// `certs.d` directory (what `RegistryOptions::certs_dir` takes).
    pub fn certs_d(&self, host: &str) -> PathBuf {
        let root = self.dir.join("certs.d");
        std::fs::create_dir_all(root.join(host)).unwrap();
        std::fs::copy(&self.ca_crt, root.join(host).join("ca.crt")).unwrap();
        root
    }
}
