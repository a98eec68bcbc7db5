//! A certificate authority made at run time, for tests that serve `notariumd` over HTTPS: it
//! issues server certificates for `127.0.0.1` and `localhost` (each with a fresh key, so that a
//! reload is visible), and gives its own certificate as PEM for clients to trust.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A test CA.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A server certificate and its key, as PEM, and the DER of the certificate (to compare with
/// what a server presents).
pub struct ServerCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A new CA with a fresh key.
    ///
    /// # Panics
    /// When rcgen cannot make a key (no randomness).
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Notarium test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    /// The CA certificate, PEM: what clients trust.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns the path.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write ca.pem");
        path
    }

    /// A server certificate for `127.0.0.1` and `localhost` with a fresh key; `label` goes into
    /// its common name.
    ///
    /// # Panics
    /// When rcgen fails.
    pub fn issue(&self, label: &str) -> ServerCert {
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("notariumd test {label}"));
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl ServerCert {
    /// Writes `cert.pem` and `key.pem` into `dir`, each replaced atomically (written beside and
    /// renamed), as a certificate manager does; returns both paths.
    ///
    /// # Panics
    /// When the files cannot be written.
    pub fn install(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let put = |name: &str, text: &str| {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).expect("write certificate file");
            std::fs::rename(&tmp, &path).expect("rename certificate file");
            path
        };
        (
            put("cert.pem", &self.cert_pem),
            put("key.pem", &self.key_pem),
        )
    }
}
