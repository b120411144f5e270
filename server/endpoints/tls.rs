//! TLS towards engines: the rustls client configuration of an endpoint, and the sentences that
//! say why a handshake failed.
//!
//! Berth builds the `ClientConfig` itself (rather than letting bollard read files) so that the
//! certificates can come from the store, the verification mode is explicit, and the errors of
//! a failed handshake can be named precisely.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// The PEM material of one endpoint. `Debug` says what is there, never what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// Verify the engine's certificate against `ca`; false only after the explicit opt-in.
    pub verify: bool,
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("verify", &self.verify)
            .field("ca", &self.ca.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl TlsMaterial {
    pub fn has_client_cert(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }

    /// What the endpoints page says about this TLS setup.
    pub fn describe(&self) -> &'static str {
        match (self.verify, self.has_client_cert()) {
            (true, true) => "TLS, verified, with client certificate",
            (true, false) => "TLS, server verified only (no client certificate)",
            (false, true) => "TLS with client certificate, server NOT verified",
            (false, false) => "TLS, server NOT verified",
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses PEM certificates; `field` names the form field an error belongs to.
pub fn parse_certs(field: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(field, format!("This is not a PEM certificate: {e}.")))?;
    if certs.is_empty() {
        return Err(Error::invalid(
            field,
            "No certificate found: paste the PEM text starting with -----BEGIN CERTIFICATE-----.",
        ));
    }
    Ok(certs)
}

/// Parses a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
        Error::invalid(
            "key",
            "No private key found: paste the PEM text starting with -----BEGIN … PRIVATE KEY-----.",
        )
    })
}

/// Checks the material the way a connection will use it.
pub fn validate(m: &TlsMaterial) -> Result<()> {
    client_config(m).map(|_| ())
}

/// The rustls configuration for an endpoint.
pub fn client_config(m: &TlsMaterial) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS versions: {e}")))?;
    let builder = if m.verify {
        let Some(ca) = &m.ca else {
            return Err(Error::invalid(
                "ca",
                "Verifying the engine needs the CA certificate (ca.pem) that signed its \
                 certificate, or choose to skip verification.",
            ));
        };
        let mut roots = RootCertStore::empty();
        for c in parse_certs("ca", ca)? {
            roots.add(c).map_err(|e| {
                Error::invalid("ca", format!("This CA certificate cannot be used: {e}."))
            })?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    let config = match (&m.cert, &m.key) {
        (Some(cert), Some(key)) => {
            let chain = parse_certs("cert", cert)?;
            let key = parse_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::invalid(
                    "key",
                    format!("The client certificate and key do not go together: {e}."),
                )
            })?
        }
        (Some(_), None) => {
            return Err(Error::invalid(
                "key",
                "A client certificate needs its private key (key.pem).",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "cert",
                "A private key needs its client certificate (cert.pem).",
            ));
        }
        (None, None) => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts any server certificate (still checking the handshake's signatures): the explicit,
/// warned "skip verification" choice.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

/// The rustls error inside an I/O error of a TLS stream, if that is what it is.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Why a handshake with `host` failed, as a sentence a user can act on.
pub fn describe_failure(err: &rustls::Error, host: &str, client_cert: bool) -> String {
    use rustls::AlertDescription as A;
    use rustls::CertificateError as C;
    use rustls::Error as E;
    let why = match err {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown CA: the engine's certificate is not signed by the CA \
                                 configured for this endpoint"
                .to_string(),
            C::ExpiredContext { not_after, .. } => format!(
                "the engine's certificate expired on {}",
                date(not_after.as_secs())
            ),
            C::Expired => "the engine's certificate expired".into(),
            C::NotValidYetContext { not_before, .. } => format!(
                "the engine's certificate is not valid before {}",
                date(not_before.as_secs())
            ),
            C::NotValidYet => "the engine's certificate is not valid yet".into(),
            C::NotValidForNameContext { presented, .. } => format!(
                "name mismatch: the engine's certificate is for {}, not for {host}",
                if presented.is_empty() {
                    "no name at all".to_string()
                } else {
                    presented.join(", ")
                }
            ),
            C::NotValidForName => {
                format!("name mismatch: the engine's certificate is not valid for {host}")
            }
            C::BadSignature => "the engine's certificate has a bad or unsupported signature".into(),
            C::Revoked => "the engine's certificate is revoked".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "the engine's certificate is not meant for a server (extended key usage)".into()
            }
            other => format!("the engine's certificate was rejected ({other:?})"),
        },
        E::AlertReceived(A::CertificateRequired) if !client_cert => {
            "client certificate refused: the engine demands a client certificate and none is \
             configured for this endpoint"
                .into()
        }
        E::AlertReceived(
            a @ (A::CertificateRequired
            | A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::AccessDenied),
        ) => format!(
            "client certificate refused: the engine did not accept {} ({a:?})",
            if client_cert {
                "the client certificate (is it signed by the CA the engine trusts?)"
            } else {
                "a connection without client certificate"
            }
        ),
        E::AlertReceived(a) => format!("the engine ended the handshake ({a:?})"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the engine did not answer in TLS (is this a plain TCP port? then use TCP without TLS)"
                .into()
        }
        other => other.to_string(),
    };
    format!("TLS handshake failed: {why}")
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub fn date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_577_836_800), "2020-01-01");
        assert_eq!(date(1_709_164_800), "2024-02-29");
    }

    #[test]
    fn debug_hides_the_key() {
        let m = TlsMaterial {
            verify: true,
            ca: None,
            cert: None,
            key: Some(b"-----BEGIN PRIVATE KEY-----secret".to_vec()),
        };
        assert!(!format!("{m:?}").contains("secret"));
    }

    #[test]
    fn verify_without_ca_and_key_without_cert_are_refused() {
        let m = TlsMaterial {
            verify: true,
            ca: None,
            cert: None,
            key: None,
        };
        assert_eq!(validate(&m).unwrap_err().field(), Some("ca"));
        let m = TlsMaterial {
            verify: false,
            ca: None,
            cert: None,
            key: Some(b"x".to_vec()),
        };
        assert_eq!(validate(&m).unwrap_err().field(), Some("cert"));
        let m = TlsMaterial {
            verify: true,
            ca: Some(b"not pem".to_vec()),
            cert: None,
            key: None,
        };
        assert_eq!(validate(&m).unwrap_err().field(), Some("ca"));
    }
}
