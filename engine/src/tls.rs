//! TLS on the TCP listener (`-Z`), configured with memcached's options: `-o
//! ssl_chain_cert=FILE` (the certificate chain, PEM), `ssl_key=FILE` (its private key, PEM;
//! default: inside the chain file), `ssl_ca_cert=FILE` (CAs that sign client certificates) and
//! `ssl_verify_mode=N` (0: no client certificate, 1: asked for and checked when sent, 2 and 3:
//! required). rustls does the protocol, TLS 1.2 and 1.3 as memcached's default minimum.
//!
//! The handshake runs on the connection's worker before the first byte reaches the parser, and
//! must finish within [`HANDSHAKE_TIMEOUT`], so a client that never completes it cannot hold a
//! connection slot.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// memcached's `-o ssl_*` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub chain_cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    pub verify_mode: u8,
}

impl TlsOptions {
    /// Takes one `-o` suboption if it is a TLS one; `Ok(false)` when it is not.
    pub fn suboption(&mut self, name: &str, value: &str) -> Result<bool, String> {
        match name {
            "ssl_chain_cert" => self.chain_cert = Some(value.into()),
            "ssl_key" => self.key = Some(value.into()),
            "ssl_ca_cert" => self.ca_cert = Some(value.into()),
            "ssl_verify_mode" => {
                self.verify_mode = value
                    .parse()
                    .ok()
                    .filter(|m| *m <= 3)
                    .ok_or_else(|| format!("ssl_verify_mode: want 0 to 3, got {value:?}"))?
            }
            "ssl_keyformat" if value == "1" || value.eq_ignore_ascii_case("pem") => {}
            "ssl_keyformat" => return Err("ssl_keyformat: only PEM keys are supported".into()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A TLS configuration ready to accept connections.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub options: TlsOptions,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("options", &self.options)
            .finish()
    }
}

impl Tls {
    /// Loads the certificates and key the options name.
    pub fn new(options: TlsOptions) -> Result<Tls, String> {
        let chain_path = options
            .chain_cert
            .clone()
            .ok_or("-Z needs a certificate: -o ssl_chain_cert=FILE")?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&chain_path)
            .and_then(|certs| certs.collect())
            .map_err(|e| format!("ssl_chain_cert {}: {e}", chain_path.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "ssl_chain_cert {}: no certificate",
                chain_path.display()
            ));
        }
        let key_path = options.key.clone().unwrap_or_else(|| chain_path.clone());
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| format!("ssl_key {}: {e}", key_path.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match options.verify_mode {
            0 => builder.with_no_client_auth(),
            mode => {
                let ca_path = options
                    .ca_cert
                    .clone()
                    .ok_or("ssl_verify_mode above 0 needs -o ssl_ca_cert=FILE")?;
                let mut roots = RootCertStore::empty();
                let cas = CertificateDer::pem_file_iter(&ca_path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("ssl_ca_cert {}: {e}", ca_path.display()))?;
                for ca in cas {
                    roots
                        .add(ca)
                        .map_err(|e| format!("ssl_ca_cert {}: {e}", ca_path.display()))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if mode == 1 {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(
                    verifier.build().map_err(|e| format!("ssl_ca_cert: {e}"))?,
                )
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("ssl_chain_cert and ssl_key do not match: {e}"))?;
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            options,
        })
    }
}
