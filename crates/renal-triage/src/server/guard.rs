//! What every request passes through: a request id (in the `X-Request-Id` header, in error
//! bodies and in the log), bearer-token authentication (all but `/healthz`, when a token file
//! is set), `Cache-Control: no-store`, and error bodies that show no internals: a 500 says
//! "internal error" and its request id (the details go to the log under that id), and the
//! private upload paths in a message are replaced by the field's words.
//!
//! Token file: one `sha256:<64 hex digits>` per line (the sha256 of a token; `#` comments
//! and blank lines allowed), so the tokens themselves are never stored; a presented token is
//! hashed and compared with every stored hash in constant time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The hashes of the accepted bearer tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Vec<[u8; 32]>);

impl Tokens {
    /// Reads a token file (see the module documentation).
    pub fn load(path: &Path) -> Result<Tokens> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?;
        let out = renal_cohort::io::entry_lines(&text)
            .map(|(n, l)| {
                let hex = l.strip_prefix("sha256:").unwrap_or("");
                match renal_cohort::io::unhex(hex).and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                    Some(h) => Ok(h),
                    None => bail!(
                        "{} line {n}: not `sha256:` and 64 hex digits (tokens are stored hashed: `printf %s TOKEN | sha256sum`)",
                        path.display()
                    ),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if out.is_empty() {
            bail!("{}: no token hash", path.display());
        }
        Ok(Tokens(out))
    }

    /// The hashes of these tokens (for tests and benchmarks; a server reads a file).
    pub fn from_tokens(tokens: &[&str]) -> Tokens {
        use sha2::{Digest, Sha256};
        Tokens(
            tokens
                .iter()
                .map(|t| Sha256::digest(t.as_bytes()).into())
                .collect(),
        )
    }

    /// Whether `token` hashes to one of the stored hashes (every hash compared, in constant
    /// time).
    pub fn accepts(&self, token: &str) -> bool {
        use sha2::{Digest, Sha256};
        let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut any = 0u8;
        for stored in &self.0 {
            let diff = stored.iter().zip(&h).fold(0u8, |a, (x, y)| a | (x ^ y));
            any |= u8::from(diff == 0);
        }
        any == 1
    }
}

/// Requests per minute per client address: a token bucket per address (a minute's worth of
/// burst), refilled continuously; `/healthz` is not counted.
pub struct RateLimit {
    per_minute: u32,
    buckets:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (f64, std::time::Instant)>>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: Default::default(),
        }
    }

    /// Whether `ip` may make one more request now.
    fn allow(&self, ip: std::net::IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = std::time::Instant::now();
        let cap = self.per_minute as f64;
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        if b.len() > 100_000 {
            // Forget the clients quiet for a minute (their buckets are full again anyway).
            b.retain(|_, (_, t)| now.duration_since(*t).as_secs() < 60);
        }
        let (tokens, last) = b.entry(ip).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * cap / 60.0).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the guard needs.
pub struct Guard {
    pub tokens: Option<Tokens>,
    /// The private upload folder, whose paths never reach a client.
    pub uploads: PathBuf,
    pub rate: RateLimit,
}

/// A request's id.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn json_error(status: StatusCode, message: &str, id: &str) -> Response {
    (
        status,
        axum::Json(
            serde_json::json!({"error": message, "status": status.as_u16(), "request_id": id}),
        ),
    )
        .into_response()
}

/// A client-supplied text as one log field: control characters escaped (a newline in a field
/// name would otherwise forge a log line of its own), at most 200 characters.
pub(super) fn log_safe(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(200).is_some() {
        out.push_str("...");
    }
    out
}

/// Replaces every private upload path in `text` by "the uploaded file".
pub fn scrub(text: &str, uploads: &Path) -> String {
    let dir = uploads.display().to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&dir) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + dir.len()..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ':' | ')' | '"' | '<' | ',' | '\''))
            .unwrap_or(tail.len());
        out.push_str("the uploaded file");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The middleware (see the module documentation).
pub async fn guard(State(g): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let id = crate::engine::contain::report_id();
    let path = req.uri().path().to_string();
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = client.filter(|_| path != "/healthz") {
        if !g.rate.allow(ip) {
            tracing::warn!(request_id = %id, client = %ip, "rate limit: request refused");
            let mut r = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address; try again in a minute",
                &id,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return finish(r, &id);
        }
    }
    if let Some(tokens) = &g.tokens {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = path == "/healthz" || presented.is_some_and(|t| tokens.accepts(t));
        if !ok {
            tracing::warn!(request_id = %id, path = %log_safe(&path), "unauthenticated request refused");
            let mut r = json_error(
                StatusCode::UNAUTHORIZED,
                "authentication required: Authorization: Bearer <token>",
                &id,
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return finish(r, &id);
        }
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let r = next.run(req).await;
    let status = r.status();
    let r = if status.is_server_error()
        && status != StatusCode::SERVICE_UNAVAILABLE
        && status != StatusCode::GATEWAY_TIMEOUT
    {
        let (_, body) = r.into_parts();
        let detail = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        tracing::error!(request_id = %id, path = %log_safe(&path), status = status.as_u16(), detail = %log_safe(&scrub(&String::from_utf8_lossy(&detail), &g.uploads)), "internal error");
        json_error(status, "internal error", &id)
    } else if status.is_client_error() || status.is_server_error() {
        let (mut parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 4 << 20)
            .await
            .unwrap_or_default();
        let text = scrub(&String::from_utf8_lossy(&bytes), &g.uploads);
        let text = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(mut v) if v.is_object() => {
                v["request_id"] = serde_json::Value::from(id.clone());
                v.to_string()
            }
            _ => text,
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(text))
    } else {
        r
    };
    finish(r, &id)
}

fn finish(mut r: Response, id: &str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    r
}
