//! The agent workspace (spec §14): the web app's files, compiled in, and the configuration the
//! page reads first (`config.js`). The local stack serves them at `/`; in AWS settings-api
//! serves them on the HTTP API's `GET /` routes (no authorizer: the page signs in itself).

use serde_json::json;

/// The files of the web app: (name, content type, text).
pub const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../web/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../web/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../web/app.css")),
];

/// The content type and text of a file of the web app.
pub fn file(name: &str) -> Option<(&'static str, &'static str)> {
    FILES.iter().find(|(n, _, _)| *n == name).map(|(_, mime, text)| (*mime, *text))
}

/// What the page asks for by name: one of [`FILES`], or `config.js` (made from the environment's
/// sign-in configuration).
pub fn asset(name: &str) -> Option<(&'static str, std::borrow::Cow<'static, str>)> {
    if name == "config.js" {
        return Some(("text/javascript; charset=utf-8", config_js(&SignInConfig::from_env()).into()));
    }
    file(name).map(|(mime, text)| (mime, text.into()))
}

/// How the page signs in: OpenID Connect (authorization code with PKCE) with the identity
/// provider that issues the API's tokens, or (none) the local stack's sign-in form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignInConfig {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Space-separated scopes asked for.
    pub scope: Option<String>,
}

/// The environment variables the sign-in configuration is read from (issuer, client id, scope).
pub const SIGN_IN_VARIABLES: [&str; 3] = ["HANDOFF_OIDC_ISSUER", "HANDOFF_OIDC_CLIENT_ID", "HANDOFF_OIDC_SCOPE"];

impl SignInConfig {
    /// From [`SIGN_IN_VARIABLES`] (unset or empty: none).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let [issuer, client_id, scope] = SIGN_IN_VARIABLES;
        Self { issuer: var(issuer), client_id: var(client_id), scope: var(scope) }
    }
}

/// `config.js`: sets `window.HANDOFF_CONFIG` before the app starts. The API is on the page's
/// own origin; the page returns to itself after signing in.
pub fn config_js(c: &SignInConfig) -> String {
    let config = match (&c.issuer, &c.client_id) {
        (Some(issuer), Some(client_id)) => json!({
            "apiBase": "",
            "oidc": {
                "issuer": issuer,
                "clientId": client_id,
                "scope": c.scope.clone().unwrap_or_else(|| "openid profile".into()),
                "token": "id_token",
                "claims": {"workspace_id": "workspace_id", "role": "role"},
            }
        }),
        _ => json!({"apiBase": ""}),
    };
    format!(
        "window.HANDOFF_CONFIG = {config};\nif (window.HANDOFF_CONFIG.oidc) window.HANDOFF_CONFIG.oidc.redirectUri = location.origin + location.pathname;\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_there_and_the_page_loads_its_configuration_first() {
        let (mime, html) = file("index.html").unwrap();
        assert!(mime.starts_with("text/html"));
        let config_at = html.find("config.js").expect("index.html loads config.js");
        assert!(config_at < html.find("app.js").unwrap(), "before the app");
        assert!(file("app.js").unwrap().1.contains("HANDOFF_CONFIG"));
        assert!(file("nope.js").is_none());
        assert_eq!(config_js(&SignInConfig::default()), "window.HANDOFF_CONFIG = {\"apiBase\":\"\"};\nif (window.HANDOFF_CONFIG.oidc) window.HANDOFF_CONFIG.oidc.redirectUri = location.origin + location.pathname;\n");
        let oidc = config_js(&SignInConfig {
            issuer: Some("https://login.example.com".into()),
            client_id: Some("handoff-web".into()),
            scope: None,
        });
        assert!(
            oidc.contains("\"clientId\":\"handoff-web\"") && oidc.contains("\"scope\":\"openid profile\""),
            "{oidc}"
        );
    }
}
