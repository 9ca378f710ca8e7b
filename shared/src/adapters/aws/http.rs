//! The one HTTPS client every AWS SDK client of a function uses: rustls with the `ring` crypto
//! provider, trusting only the Amazon Trust Services roots, which every AWS service endpoint
//! chains to. The five roots are compiled in (`aws-roots.pem`), so a cold start reads no
//! certificate files and parses five roots instead of about 150 (parsing them all was most of a
//! function's start-up), and the binary carries one TLS stack.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2 (which cross-signs
/// them), as Mozilla's root list has them: a test checks this file against that list
/// (`webpki-root-certs`), so an update of the list that changes them fails the build.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("aws-roots.pem");

/// Builds the HTTPS client (HTTP too, for an emulator on loopback).
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS_PEM);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a valid TLS context");
    Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).tls_context(context).build_https()
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    /// The roots AWS service endpoints chain to, found by their subject names in the DER.
    const AWS_ROOT_NAMES: [&[u8]; 2] = [b"Amazon Root CA", b"Starfield Services Root Certificate Authority"];

    fn contains(der: &[u8], name: &[u8]) -> bool {
        der.windows(name.len()).any(|w| w == name)
    }

    #[test]
    fn the_compiled_in_roots_are_the_amazon_trust_services_roots_of_mozillas_list() {
        let from_list: Vec<Vec<u8>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.as_ref().to_vec())
            .filter(|der| AWS_ROOT_NAMES.iter().any(|n| contains(der, n)))
            .collect();
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100, "chosen out of the whole list");
        let pem = std::str::from_utf8(super::AWS_ROOTS_PEM).unwrap();
        let compiled_in: Vec<Vec<u8>> = pem
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let b64: String = block.split("-----END CERTIFICATE-----").next().unwrap().split_whitespace().collect();
                base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
            })
            .collect();
        assert_eq!(compiled_in, from_list, "aws-roots.pem differs from Mozilla's list: regenerate it");
        for n in ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"] {
            assert!(compiled_in.iter().any(|c| contains(c, n.as_bytes())), "{n}");
        }
        assert_eq!(compiled_in.len(), 5);
    }

    #[tokio::test]
    async fn the_client_builds_with_them() {
        // The SDK parses the PEM when it builds the TLS context: five roots, no error.
        let _client = super::https_client();
    }
}
