//! TLS: `ignyx._core.Tls`, a certificate chain and its private key read from PEM files (the
//! key optionally encrypted with a password, as PKCS#8), and optionally the authorities whose
//! client certificates are asked for or required, as uvicorn's `--ssl-*` settings give them.
//! Connections are decrypted by rustls; ALPN offers `h2` and `http/1.1` as the server speaks
//! them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pkcs8::der::pem;
use pkcs8::EncryptedPrivateKeyInfoRef;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use super::Protocols;

/// Whether clients are asked for a certificate, as Python's `ssl.CERT_*` (uvicorn's
/// `--ssl-cert-reqs`): 0 never, 1 optional (verified when sent), 2 required.
const CERT_NONE: u8 = 0;
const CERT_REQUIRED: u8 = 2;

#[pyclass(module = "ignyx._core", frozen)]
pub struct Tls {
    config: Arc<ServerConfig>,
}

#[pymethods]
impl Tls {
    /// Reads the files now, so that a bad certificate, key or password is told at once
    /// (ValueError naming the file).
    #[new]
    #[pyo3(signature = (certfile, keyfile = None, *, password = None, ca_certs = None, cert_reqs = 0))]
    fn new(
        certfile: PathBuf,
        keyfile: Option<PathBuf>,
        password: Option<&str>,
        ca_certs: Option<PathBuf>,
        cert_reqs: u8,
    ) -> PyResult<Self> {
        let certs = certificates(&certfile)?;
        // As Python's `load_cert_chain`, the key may be in the certificate's file.
        let key = private_key(keyfile.as_deref().unwrap_or(&certfile), password)?;
        // The process's provider: ring, the one this crate is built with.
        let builder = ServerConfig::builder();
        let builder = match (cert_reqs, &ca_certs) {
            (CERT_NONE, _) => builder.with_no_client_auth(),
            (_, None) => {
                return Err(PyValueError::new_err(
                    "ssl_cert_reqs asks for client certificates: give ssl_ca_certs",
                ))
            }
            (reqs, Some(path)) if reqs <= CERT_REQUIRED => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(path)? {
                    roots.add(cert).map_err(|e| file_error(path, e))?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
                let verifier = if reqs == CERT_REQUIRED {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                builder.with_client_cert_verifier(verifier.build().map_err(invalid)?)
            }
            (reqs, _) => {
                return Err(PyValueError::new_err(format!(
                    "ssl_cert_reqs {reqs}: expected 0 (none), 1 (optional) or 2 (required)"
                )))
            }
        };
        let config = builder.with_single_cert(certs, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => PyValueError::new_err(format!(
                "{}: the private key is not the certificate's",
                keyfile.as_deref().unwrap_or(&certfile).display()
            )),
            e => file_error(&certfile, e),
        })?;
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

impl Tls {
    /// What accepts TLS connections for a server speaking `protocols`, offered by ALPN.
    pub fn acceptor(&self, protocols: Protocols) -> TlsAcceptor {
        let mut config = (*self.config).clone();
        config.alpn_protocols = match protocols {
            Protocols::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Protocols::Http1 => vec![b"http/1.1".to_vec()],
            Protocols::Http2 => vec![b"h2".to_vec()],
        };
        TlsAcceptor::from(Arc::new(config))
    }
}

fn certificates(path: &Path) -> PyResult<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The private key in `path`: PKCS#1, SEC1 or PKCS#8, or PKCS#8 encrypted with `password`.
fn private_key(path: &Path, password: Option<&str>) -> PyResult<PrivateKeyDer<'static>> {
    let text = std::fs::read(path).map_err(|e| file_error(path, e))?;
    if let Some(block) = pem_block(&text, "ENCRYPTED PRIVATE KEY") {
        let password = password
            .ok_or_else(|| file_error(path, "the key is encrypted: give ssl_keyfile_password"))?;
        let (_, der) = pem::decode_vec(block).map_err(|e| file_error(path, e))?;
        let decrypted = EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
            .and_then(|info| info.decrypt(password))
            .map_err(|_| file_error(path, "cannot decrypt the key with ssl_keyfile_password"))?;
        return Ok(PrivatePkcs8KeyDer::from(decrypted.as_bytes().to_vec()).into());
    }
    if pem_block(&text, "RSA PRIVATE KEY")
        .is_some_and(|block| block.windows(9).any(|w| w == b"ENCRYPTED"))
    {
        return Err(file_error(
            path,
            "the key is encrypted in OpenSSL's legacy format: convert it with `openssl pkcs8 -topk8`",
        ));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => file_error(path, "no PEM private key in it"),
        e => file_error(path, e),
    })
}

/// The PEM block labelled `label` in `text`, from its BEGIN line to its END line.
fn pem_block<'a>(text: &'a [u8], label: &str) -> Option<&'a [u8]> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = find(text, begin.as_bytes())?;
    let stop = start + find(&text[start..], end.as_bytes())? + end.len();
    Some(&text[start..stop])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{}: {e}", path.display()))
}

fn invalid(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}
