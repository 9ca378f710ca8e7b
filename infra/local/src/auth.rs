//! Local bearer tokens: HS256 JWTs with the claims API Gateway's JWT authorizer passes on
//! (`sub`, `workspace_id`, `role`).

use handoff::api::RawClaims;
use jsonwebtoken::{decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The environment variable holding the signing secret.
pub const SECRET_ENV: &str = "HANDOFF_JWT_SECRET";
const SECRET_FILE: &str = "jwt-secret";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenClaims {
    pub sub: String,
    pub workspace_id: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
}

/// Where the signing secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    DataDir,
    Generated,
}

/// The secret from `HANDOFF_JWT_SECRET`, else the one kept in the data directory, else a new
/// random one (kept in the data directory when there is one, so tokens survive restarts).
pub fn load_or_create_secret(data_dir: Option<&Path>) -> std::io::Result<(String, SecretSource)> {
    if let Ok(s) = std::env::var(SECRET_ENV) {
        if !s.is_empty() {
            return Ok((s, SecretSource::Environment));
        }
    }
    if let Some(dir) = data_dir {
        if let Ok(s) = std::fs::read_to_string(dir.join(SECRET_FILE)) {
            let s = s.trim().to_string();
            if !s.is_empty() {
                return Ok((s, SecretSource::DataDir));
            }
        }
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = data_dir {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SECRET_FILE);
        std::fs::write(&path, &secret)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        return Ok((secret, SecretSource::DataDir));
    }
    Ok((secret, SecretSource::Generated))
}

/// Mints a token valid for `ttl_seconds`.
pub fn mint(
    secret: &str,
    workspace: &str,
    role: &str,
    sub: &str,
    ttl_seconds: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = TokenClaims {
        sub: sub.into(),
        workspace_id: workspace.into(),
        role: role.into(),
        iat: now,
        exp: now + ttl_seconds,
    };
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()))
}

/// Verifies a bearer token as API Gateway's JWT authorizer would: signature, expiry, claims.
pub fn verify(secret: &str, authorization: Option<&str>) -> Result<RawClaims, &'static str> {
    let header = authorization.ok_or("a bearer token is required")?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or("the Authorization header must be `Bearer <token>`")?
        .trim();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.leeway = 5;
    let data =
        decode::<TokenClaims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::ExpiredSignature => "the token has expired",
            ErrorKind::InvalidSignature => "the token's signature is not valid",
            ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                "the token lacks the sub, workspace_id or role claim"
            }
            _ => "the token is not valid",
        })?;
    let c = data.claims;
    Ok(RawClaims { sub: c.sub, workspace_id: c.workspace_id, role: c.role })
}

/// Reads a token's claims without verifying it (for the `try` command's defaults).
pub fn peek_workspace(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("workspace_id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_tampering_is_caught() {
        let t = mint("s3cret", "ws_1", "agent", "u1", 60).unwrap();
        let c = verify("s3cret", Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!((c.sub.as_str(), c.workspace_id.as_str(), c.role.as_str()), ("u1", "ws_1", "agent"));
        assert_eq!(peek_workspace(&t).as_deref(), Some("ws_1"));
        assert!(verify("other", Some(&format!("Bearer {t}"))).is_err());
        assert!(verify("s3cret", Some(&t)).is_err());
        assert!(verify("s3cret", None).is_err());
        let expired = mint("s3cret", "ws_1", "agent", "u1", -120).unwrap();
        assert_eq!(verify("s3cret", Some(&format!("Bearer {expired}"))), Err("the token has expired"));
    }
}
