//! The one HTTPS client every AWS SDK client of a function uses: rustls with the `ring` crypto
//! provider and Mozilla's root certificates compiled into the binary (`webpki-root-certs`), so a
//! cold start reads no certificate files and the binary carries one TLS stack.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use base64::Engine;

/// The trusted roots as one PEM bundle (the SDK's trust store takes PEM).
fn mozilla_roots_pem() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2_200);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
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
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(mozilla_roots_pem());
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a valid TLS context");
    Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).tls_context(context).build_https()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_root_is_in_the_bundle() {
        let pem = String::from_utf8(super::mozilla_roots_pem()).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
    }
}
