//! Which `Host` the local stack answers to. A web page the user visits could otherwise point a name
//! of its own at 127.0.0.1 (DNS rebinding) and call the stack as if it were the same site, the
//! sign-in included: so every request must name the stack by an address it listens on (127.0.0.1,
//! localhost, [::1], or the address given with `--listen`), with its port, or by a name given with
//! `--allowed-host`; and the sign-in also refuses a request that a browser marks as coming from
//! another site (`Origin`, `Sec-Fetch-Site`).

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::SocketAddr;

/// The names and port the stack answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    port: u16,
    names: Vec<String>,
}

impl AllowedHosts {
    /// The loopback names, the listening address, and `extra` names (any port given with one is
    /// ignored: the stack's own port is required).
    pub fn new(listen: SocketAddr, extra: &[String]) -> Self {
        let mut names: Vec<String> = vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()];
        if !listen.ip().is_unspecified() {
            names.push(match listen {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        names.extend(extra.iter().map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()));
        Self { port: listen.port(), names }
    }

    /// The same names, now that the port is known (a stack started on port 0).
    pub fn on_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Whether `authority` (`name[:port]`, as a `Host` header or an origin's host) names the stack.
    pub fn allows(&self, authority: &str, default_port: u16) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        let (name, port) = match authority.rsplit_once(':') {
            // `[::1]` alone has colons but no port.
            Some((n, p)) if !authority.ends_with(']') && p.bytes().all(|b| b.is_ascii_digit()) => {
                (n.to_string(), p.parse::<u16>().ok())
            }
            _ => (authority.clone(), Some(default_port)),
        };
        port == Some(self.port) && self.names.contains(&name)
    }

    /// Whether a request's headers show it was sent by a page of another site (its `Origin`, or
    /// `Sec-Fetch-Site: cross-site`). A request without them (a script, curl) is not.
    pub fn cross_site(&self, headers: &HeaderMap) -> bool {
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
        if site.eq_ignore_ascii_case("cross-site") {
            return true;
        }
        match headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("null")) {
            None => false,
            Some(origin) => {
                let (default_port, rest) = if let Some(r) = origin.strip_prefix("http://") {
                    (80, r)
                } else if let Some(r) = origin.strip_prefix("https://") {
                    (443, r)
                } else {
                    return true;
                };
                !self.allows(rest.trim_end_matches('/'), default_port)
            }
        }
    }
}

/// Refuses a request whose `Host` is not the stack's: 421, before any route runs.
pub async fn require_host(State(hosts): State<std::sync::Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if hosts.allows(host, 80) {
        return next.run(req).await;
    }
    let message = format!(
        "this stack answers to 127.0.0.1, localhost or [::1] on port {} (and names given with \
         --allowed-host), not to the host {host:?}",
        hosts.port
    );
    (
        StatusCode::MISDIRECTED_REQUEST,
        Json(serde_json::json!({"error": {"code": "host_not_allowed", "message": message}})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stack_s_own_names_and_port_pass() {
        let h = AllowedHosts::new("127.0.0.1:8787".parse().unwrap(), &["handoff.internal".into()]);
        for ok in ["127.0.0.1:8787", "localhost:8787", "LOCALHOST:8787", "[::1]:8787", "handoff.internal:8787"] {
            assert!(h.allows(ok, 80), "{ok}");
        }
        for bad in [
            "evil.example:8787",
            "127.0.0.1:9999",
            "localhost",
            "",
            "127.0.0.1.evil.example:8787",
            "[::1]",
            "localhost:8787:1",
        ] {
            assert!(!h.allows(bad, 80), "{bad}");
        }
        let any = AllowedHosts::new("0.0.0.0:80".parse().unwrap(), &[]);
        assert!(any.allows("localhost", 80), "port 80 may be left out");
        assert!(!any.allows("0.0.0.0", 80), "the unspecified address is no name");
        let lan = AllowedHosts::new("192.168.1.5:8787".parse().unwrap(), &[]);
        assert!(lan.allows("192.168.1.5:8787", 80));
    }

    #[test]
    fn a_page_of_another_site_is_told_apart() {
        let h = AllowedHosts::new("127.0.0.1:8787".parse().unwrap(), &[]);
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert!(!h.cross_site(&with(&[])), "no Origin: a script");
        assert!(!h.cross_site(&with(&[("origin", "http://127.0.0.1:8787")])));
        assert!(!h.cross_site(&with(&[("origin", "http://localhost:8787"), ("sec-fetch-site", "same-origin")])));
        assert!(h.cross_site(&with(&[("origin", "http://evil.example:8787")])));
        assert!(h.cross_site(&with(&[("origin", "null")])));
        assert!(h.cross_site(&with(&[("sec-fetch-site", "cross-site")])));
        assert!(h.cross_site(&with(&[("origin", "http://127.0.0.1")])), "another port is another site");
    }
}
