//! TLS (`-Z`) with a real TLS client: Python's `ssl` module under pymemcache, with and without
//! client certificates. The certificates are made here, for each run.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use common::{server, Client};
use lzcache::tls::{Tls, TlsOptions};
use lzcache::Config;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("lzcache-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lzcache test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca, &ca_key)
                .unwrap();
            std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf(vec!["127.0.0.1".into(), "localhost".into()], "server");
        leaf(vec!["client".into()], "client");
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn options(&self, verify_mode: u8) -> TlsOptions {
        TlsOptions {
            chain_cert: Some(self.path("server.pem")),
            key: Some(self.path("server.key")),
            ca_cert: Some(self.path("ca.pem")),
            verify_mode,
        }
    }
}

/// pymemcache over Python's `ssl`, trusting `ca`, optionally presenting a client certificate;
/// sets and reads back a value. Returns whether it succeeded, and its output.
fn python_client(addr: SocketAddr, ca: &Path, client: Option<(&Path, &Path)>) -> (bool, String) {
    let script = r#"
import ssl, sys
from pymemcache.client.base import Client
ctx = ssl.create_default_context(cafile=sys.argv[2])
if len(sys.argv) > 3:
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
c = Client(("127.0.0.1", int(sys.argv[1])), tls_context=ctx, timeout=5)
value = b"over tls " * 500
c.set("k", value)
assert c.get("k") == value, "value differs"
print("ok", c.version().decode())
"#;
    let mut command = Command::new("/usr/bin/python3");
    command
        .args(["-c", script])
        .arg(addr.port().to_string())
        .arg(ca);
    if let Some((cert, key)) = client {
        command.arg(cert).arg(key);
    }
    let out = command
        .output()
        .expect("python3 runs (make test installs python3-pymemcache)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_python_ssl_client_stores_and_reads_over_tls() {
    let pki = Pki::new("plain");
    let s = server(Config {
        tls: Some(Tls::new(pki.options(0)).unwrap()),
        ..Config::default()
    });
    let (ok, out) = python_client(s.addr(), &pki.path("ca.pem"), None);
    assert!(ok, "{out}");
    assert!(out.starts_with("ok 1.6"), "{out}");
    // A client speaking plain text gets no reply: its bytes are not a TLS handshake.
    let mut plain = Client::connect_tcp(s.addr());
    plain.send(b"version\r\n");
    assert!(plain.is_closed());
}

#[test]
fn a_required_client_certificate_is_enforced() {
    let pki = Pki::new("mutual");
    let s = server(Config {
        tls: Some(Tls::new(pki.options(2)).unwrap()),
        ..Config::default()
    });
    let (ok, out) = python_client(s.addr(), &pki.path("ca.pem"), None);
    assert!(!ok, "served without a client certificate: {out}");
    // Refused by the server: its alert, or — when the client's write races the alert — the
    // connection torn down under it; never a wrong value or a missing module.
    let refused = [
        "CERTIFICATE_REQUIRED",
        "BrokenPipeError",
        "ConnectionResetError",
        "SSLEOFError",
        "SSLZeroReturnError",
    ];
    assert!(
        refused.iter().any(|r| out.contains(r)),
        "failed for another reason: {out}"
    );
    let client = (pki.path("client.pem"), pki.path("client.key"));
    let (ok, out) = python_client(s.addr(), &pki.path("ca.pem"), Some((&client.0, &client.1)));
    assert!(ok, "{out}");
}

#[test]
fn tls_options_follow_memcached() {
    let pki = Pki::new("options");
    let chain = pki.path("server.pem");
    let key = pki.path("server.key");
    let parse = |args: &[&str]| lzcache::Cli::try_parse_from(args).unwrap().into_config();
    let o = format!(
        "ssl_chain_cert={},ssl_key={}",
        chain.display(),
        key.display()
    );
    let config = parse(&["lzcache", "-Z", "-o", &o]).unwrap();
    assert_eq!(config.tls.unwrap().options.verify_mode, 0);
    assert!(parse(&["lzcache", "-Z"])
        .unwrap_err()
        .contains("ssl_chain_cert"));
    assert!(parse(&["lzcache", "-o", &o]).unwrap_err().contains("-Z"));
    let required = format!("{o},ssl_verify_mode=2");
    assert!(parse(&["lzcache", "-Z", "-o", &required])
        .unwrap_err()
        .contains("ssl_ca_cert"));
    let mismatched = format!(
        "ssl_chain_cert={},ssl_key={}",
        chain.display(),
        pki.path("client.key").display()
    );
    assert!(parse(&["lzcache", "-Z", "-o", &mismatched]).is_err());
    let s = server(Config {
        tls: Some(Tls::new(pki.options(1)).unwrap()),
        ..Config::default()
    });
    // Verify mode 1 asks for a certificate but serves clients without one.
    let (ok, out) = python_client(s.addr(), &pki.path("ca.pem"), None);
    assert!(ok, "{out}");
}
