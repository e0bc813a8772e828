//! TLS to PostgreSQL with libpq's URL parameters and meanings (SPEC §2):
//! `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, on rustls (ring provider).
//!
//! - `disable`: no TLS. `prefer` (the default): TLS when the server offers
//!   it. `require`: TLS or nothing. Neither checks the certificate, unless a
//!   root file is there (`sslrootcert`, or `~/.postgresql/root.crt`): then, as
//!   libpq does for compatibility, the chain is checked as under `verify-ca`.
//! - `verify-ca`: the chain must lead to a CA of the root file.
//!   `verify-full`: that, and the certificate must name the host.
//! - `sslrootcert=system`: the system's roots (as libpq 16); it makes
//!   `verify-full` the default and refuses weaker modes.
//! - `sslcert` + `sslkey` (default `~/.postgresql/postgresql.crt` / `.key`
//!   when they exist): a client certificate. The key file must not be
//!   readable by group or others (libpq's rule).
//!
//! rustls checks the chain and the name together; `verify-ca` wraps its
//! verifier and forgives only a name mismatch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pg_url::Parts;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// The mode as the URL spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether TLS is tried and whether it is a must.
    pub(crate) fn client_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as M;
        match self {
            SslMode::Disable => M::Disable,
            SslMode::Prefer => M::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => M::Require,
        }
    }
}

/// The URL parameters this module reads; the rest go to tokio-postgres.
pub(crate) const PARAMS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// The `sslmode` of a URL's parameters, by libpq's rules, and its
/// `sslrootcert` (decoded) when set: what `check` judges without loading files.
pub(crate) fn mode_of(parts: &Parts<'_>) -> Result<(SslMode, Option<String>), String> {
    let rootcert = parts
        .param("sslrootcert")
        .map(decoded)
        .filter(|r| !r.is_empty());
    let system = rootcert.as_deref() == Some("system");
    let mode = match parts.param("sslmode").map(decoded).as_deref() {
        None | Some("") if system => SslMode::VerifyFull,
        None | Some("") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some("prefer") => SslMode::Prefer,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some("allow") => {
            return Err(
                "sslmode=allow (plaintext first, TLS as a fallback) is not supported: \
                 use prefer or disable"
                    .to_owned(),
            )
        }
        Some(other) => {
            return Err(format!(
                "unknown sslmode '{}': use disable, prefer, require, verify-ca or verify-full",
                shown(other)
            ))
        }
    };
    if system && mode != SslMode::VerifyFull {
        return Err(format!(
            "sslrootcert=system needs sslmode=verify-full, not {} (as libpq): the system's \
             roots vouch for host names, so the host name must be checked",
            mode.as_str()
        ));
    }
    Ok((mode, rootcert))
}

/// A store's TLS: the mode, and the connector every connection uses.
pub(crate) struct Tls {
    pub(crate) mode: SslMode,
    /// `None` under `disable`.
    pub(crate) connector: Option<MakeRustlsConnect>,
    /// Where the CAs come from, for messages ("sslrootcert /etc/ca.pem").
    roots: String,
    /// Whether the server's certificate chain is checked.
    pub(crate) verified: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .field("roots", &self.roots)
            .field("verified", &self.verified)
            .finish()
    }
}

fn decoded(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// A value from the URL, shown in a message: escaped and cut.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(64)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// `~/.postgresql/NAME`, libpq's default place for TLS files.
fn default_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(Path::new(&home).join(".postgresql").join(name))
}

impl Tls {
    /// Reads the TLS parameters of a URL and loads every file they name, so a
    /// bad mode, an unreadable file or a key without its certificate fails at
    /// open, before any connection.
    pub(crate) fn from_parts(parts: &Parts<'_>) -> Result<Tls, String> {
        let (mode, rootcert) = mode_of(parts)?;
        if mode == SslMode::Disable {
            return Ok(Tls {
                mode,
                connector: None,
                roots: String::new(),
                verified: false,
            });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        // The CAs: the named file, the system's, or libpq's default file if it exists.
        let (roots, roots_name) = match rootcert {
            Some(r) if r == "system" => (Some(system_roots()?), "the system's roots".to_owned()),
            Some(path) => (
                Some(roots_from_file(Path::new(&path))?),
                format!("sslrootcert {path}"),
            ),
            None => match default_file("root.crt").filter(|p| p.exists()) {
                Some(path) => (
                    Some(roots_from_file(&path)?),
                    format!("{} (libpq's default sslrootcert)", path.display()),
                ),
                None if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => {
                    return Err(format!(
                        "sslmode={} checks the server's certificate but no CA is given: set \
                         sslrootcert to a PEM file of CAs, or sslrootcert=system \
                         (~/.postgresql/root.crt does not exist)",
                        mode.as_str()
                    ))
                }
                None => (None, String::new()),
            },
        };
        let verified = roots.is_some();
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            None => Arc::new(AnyCertificate(Arc::clone(&provider))),
            Some(roots) => {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("{roots_name}: {e}"))?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match client_identity(parts)? {
            Some((certs, key, cert_path, key_path)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => format!(
                        "sslkey {key_path} does not match the certificate in sslcert {cert_path}"
                    ),
                    other => format!("sslcert {cert_path} / sslkey {key_path}: {other}"),
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Tls {
            mode,
            connector: Some(MakeRustlsConnect::new(config)),
            roots: roots_name,
            verified,
        })
    }

    /// Says in words why a TLS handshake failed, from the error chain.
    pub(crate) fn explain(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        let mut cause = Some(e);
        while let Some(c) = cause {
            let rustls_error = c.downcast_ref::<rustls::Error>().or_else(|| {
                c.downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            });
            if let Some(err) = rustls_error {
                return Some(self.explain_rustls(err));
            }
            if c.to_string().contains("server does not support TLS") {
                return Some(format!(
                    "the server does not offer TLS, and sslmode={} requires it",
                    self.mode.as_str()
                ));
            }
            cause = c.source();
        }
        None
    }

    fn explain_rustls(&self, e: &rustls::Error) -> String {
        let mode = self.mode.as_str();
        match e {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!(
                        "host name mismatch: the server's certificate does not name the host \
                         connected to (sslmode={mode} checks the name; verify-ca would not): {e}"
                    )
                }
                CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                    "unknown CA: the server's certificate is not signed by a CA in {} \
                     (sslmode={mode}): {e}",
                    self.roots
                ),
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    format!("the server's certificate is expired or not yet valid: {e}")
                }
                _ => format!("the server's certificate was refused (sslmode={mode}): {e}"),
            },
            rustls::Error::AlertReceived(alert) => format!(
                "the server refused the TLS handshake ({alert:?}); a server that asks for a \
                 client certificate needs sslcert and sslkey"
            ),
            other => format!("TLS handshake failed: {other}"),
        }
    }
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("sslrootcert {shown}: {}", pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert {shown}: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {shown}: holds no PEM certificate"));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert {shown}: not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or(String::new(), |e| format!(": {e}"));
        return Err(format!(
            "sslrootcert=system: no root certificates found on this system{why}"
        ));
    }
    Ok(roots)
}

/// A PEM file's error: "cannot read it: ..." for I/O, else what is wrong.
fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => format!("cannot read it: {io}"),
        other => format!("not a PEM file: {other:?}"),
    }
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    String,
    String,
);

/// The client certificate and key, when one is given or libpq's default
/// files exist.
fn client_identity(parts: &Parts<'_>) -> Result<Option<Identity>, String> {
    let cert_given = parts
        .param("sslcert")
        .map(decoded)
        .filter(|c| !c.is_empty());
    let key_given = parts.param("sslkey").map(decoded).filter(|k| !k.is_empty());
    let cert = match &cert_given {
        Some(path) => Some(PathBuf::from(path)),
        None => default_file("postgresql.crt").filter(|p| p.exists()),
    };
    let Some(cert) = cert else {
        if let Some(key) = key_given {
            return Err(format!(
                "sslkey {key} is given without a certificate: set sslcert to the certificate \
                 that goes with it"
            ));
        }
        return Ok(None);
    };
    let cert_shown = cert.display().to_string();
    let certs = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| format!("sslcert {cert_shown}: {}", pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslcert {cert_shown}: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!("sslcert {cert_shown}: holds no PEM certificate"));
    }
    let key = match key_given {
        Some(path) => PathBuf::from(path),
        None => default_file("postgresql.key").ok_or_else(|| {
            format!("sslcert {cert_shown} is given without sslkey (and HOME is not set)")
        })?,
    };
    let key_shown = key.display().to_string();
    check_key_mode(&key).map_err(|e| format!("sslkey {key_shown}: {e}"))?;
    let der = PrivateKeyDer::from_pem_file(&key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "sslkey {key_shown}: holds no PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted)"
        ),
        other => format!("sslkey {key_shown}: {}", pem_error(&other)),
    })?;
    Ok(Some((certs, der, cert_shown, key_shown)))
}

/// libpq's rule: a key file readable by group or others is refused (0640
/// is allowed for a root-owned file, as system packages install them).
fn check_key_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed != 0 {
        return Err(format!(
            "has mode {mode:04o}: a private key must be {allowed:04o} or less (chmod 600)"
        ));
    }
    Ok(())
}

/// `verify-ca` (and a root file under `prefer`/`require`): the chain is
/// checked, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first and the name last: a name error means
        // the chain passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a root file: encrypted, not authenticated
/// (libpq's meaning; `check` warns about it). Handshake signatures are still
/// checked, so the server holds the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> Result<Tls, String> {
        Tls::from_parts(&Parts::split(url).unwrap())
    }

    #[test]
    fn sslmode_defaults_to_prefer_and_an_unknown_mode_is_refused_naming_the_choices() {
        let t = tls("postgres://h/d").unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert_eq!(
            tls("postgres://h/d?sslmode=disable").unwrap().mode,
            SslMode::Disable
        );
        assert_eq!(
            tls("postgres://h/d?sslmode=verify-everything").unwrap_err(),
            "unknown sslmode 'verify-everything': use disable, prefer, require, verify-ca or verify-full"
        );
        assert!(tls("postgres://h/d?sslmode=allow")
            .unwrap_err()
            .contains("not supported"));
    }

    #[test]
    fn verify_modes_need_a_ca_and_sslrootcert_system_needs_verify_full() {
        let err =
            tls("postgres://h/d?sslmode=verify-full&sslrootcert=/no/such/ca.pem").unwrap_err();
        assert!(
            err.starts_with("sslrootcert /no/such/ca.pem: cannot read it: No such file"),
            "{err}"
        );
        let err = tls("postgres://h/d?sslmode=require&sslrootcert=system").unwrap_err();
        assert!(
            err.starts_with("sslrootcert=system needs sslmode=verify-full, not require"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = tls(&format!(
            "postgres://h/d?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ))
        .unwrap_err();
        assert!(err.ends_with("holds no PEM certificate"), "{err}");
    }

    #[test]
    fn a_key_file_without_a_certificate_is_refused() {
        let err = tls("postgres://h/d?sslmode=require&sslkey=/tmp/client.key").unwrap_err();
        assert_eq!(
            err,
            "sslkey /tmp/client.key is given without a certificate: set sslcert to the \
             certificate that goes with it"
        );
        let err = tls("postgres://h/d?sslmode=require&sslcert=/no/such.crt&sslkey=/no/such.key")
            .unwrap_err();
        assert!(
            err.starts_with("sslcert /no/such.crt: cannot read it"),
            "{err}"
        );
    }
}
