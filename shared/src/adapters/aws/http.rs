//! The one HTTPS client every AWS SDK client of a function uses: rustls with the `ring` crypto
//! provider, trusting the Amazon Trust Services roots (which every AWS service endpoint chains
//! to), taken from Mozilla's list compiled into the binary (`webpki-root-certs`). A cold start
//! reads no certificate files and parses five roots instead of about 150 (parsing them all was
//! most of a function's start-up), and the binary carries one TLS stack.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use base64::Engine;

/// The roots AWS service endpoints chain to: Amazon Root CA 1–4 and the Starfield root that
/// cross-signs them. Found by their subject names in the certificates' DER.
const AWS_ROOT_NAMES: [&[u8]; 2] = [b"Amazon Root CA", b"Starfield Services Root Certificate Authority"];

/// Finds the AWS roots' names in a certificate; each searcher is built once for the whole list.
struct AwsRootFinder([memchr::memmem::Finder<'static>; 2]);

impl AwsRootFinder {
    fn new() -> Self {
        Self(AWS_ROOT_NAMES.map(memchr::memmem::Finder::new))
    }

    fn is_aws_root(&self, der: &[u8]) -> bool {
        self.0.iter().any(|f| f.find(der).is_some())
    }
}

/// The trusted roots as one PEM bundle (the SDK's trust store takes PEM).
fn aws_roots_pem() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pem = String::with_capacity(8 * 2_200);
    let finder = AwsRootFinder::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().filter(|c| finder.is_aws_root(c.as_ref())) {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = b64.encode(cert.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

/// Builds the HTTPS client (HTTP too, for an emulator on loopback).
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(aws_roots_pem());
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a valid TLS context");
    Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).tls_context(context).build_https()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_amazon_trust_services_roots_and_only_they_are_trusted() {
        let pem = String::from_utf8(super::aws_roots_pem()).unwrap();
        // Amazon Root CA 1, 2, 3, 4 and Starfield Services Root Certificate Authority - G2.
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 5);
        let finder = super::AwsRootFinder::new();
        let ders: Vec<_> =
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().filter(|c| finder.is_aws_root(c.as_ref())).collect();
        for n in ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"] {
            assert!(ders.iter().any(|c| c.as_ref().windows(n.len()).any(|w| w == n.as_bytes())), "{n}");
        }
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100, "chosen out of the whole list");
    }
}
