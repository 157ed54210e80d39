//! Who may do what: bearer tokens (a full one and an optional read-only
//! one), compared in constant time; the client header every write needs
//! (against cross-site requests from browsers); and, when no token is set,
//! a check that the request names a loopback host (against DNS rebinding).

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{CLIENT_HEADER, ErrorBody, ErrorCode};

/// A bearer token. Its `Debug` and `Display` never show it.
///
/// # Examples
///
/// ```
/// use paas_api::server::Token;
///
/// let token = Token::new("s3cret-s3cret-s3cret")?;
/// assert_eq!(format!("{token:?}"), "Token(..)");
/// assert!(Token::new("short").is_err());
/// # Ok::<(), paas_api::server::TokenError>(())
/// ```
#[derive(Clone)]
pub struct Token {
    /// SHA-256 of the token: what requests are compared with, in constant
    /// time and without leaking the length.
    digest: [u8; 32],
}

/// Fewest characters a token may have.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Shorter than [`MIN_TOKEN_LEN`].
    #[error("a token needs at least {MIN_TOKEN_LEN} characters, this one has {0}")]
    TooShort(usize),
    /// Characters a header cannot carry (only visible ASCII is allowed).
    #[error("a token is visible ASCII characters only (no spaces or control characters)")]
    BadCharacters,
}

impl Token {
    /// A token from its text.
    ///
    /// # Errors
    ///
    /// [`TokenError`] for a token shorter than [`MIN_TOKEN_LEN`] or with
    /// characters outside visible ASCII.
    pub fn new(text: impl AsRef<str>) -> Result<Self, TokenError> {
        let text = text.as_ref();
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::BadCharacters);
        }
        if text.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort(text.len()));
        }
        Ok(Self {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// Whether `candidate` is this token, in time independent of where they differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate).into();
        self.digest.ct_eq(&digest).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads only (the read-only token).
    Read,
    /// Reads and writes.
    Full,
}

/// The tokens and host rules of one router.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub(crate) token: Option<Token>,
    pub(crate) read_token: Option<Token>,
    /// Hosts accepted besides loopback ones while no token is set.
    pub(crate) extra_hosts: Vec<String>,
}

impl Auth {
    /// The access a request's headers give, or why they give none.
    fn access(&self, headers: &HeaderMap) -> Result<Access, ErrorBody> {
        let Some(token) = &self.token else {
            return Ok(Access::Full);
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ErrorBody::new(
                ErrorCode::Unauthorized,
                "this node needs a token: send `Authorization: Bearer <token>`",
            ));
        };
        let presented = value.as_bytes().strip_prefix(b"Bearer ").ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Unauthorized,
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
        // Both compared, always, so the time says nothing about which matched.
        let full = token.matches(presented);
        let read = self
            .read_token
            .as_ref()
            .is_some_and(|t| t.matches(presented));
        match (full, read) {
            (true, _) => Ok(Access::Full),
            (false, true) => Ok(Access::Read),
            (false, false) => Err(ErrorBody::new(ErrorCode::Unauthorized, "wrong token")),
        }
    }

    /// Whether the request's `Host` is allowed: any host once a token is
    /// set; otherwise a loopback one (a page on another site that rebinds
    /// its name to 127.0.0.1 sends its own name).
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if self.token.is_some() {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            // HTTP/1.0 without a Host: not a browser.
            return true;
        };
        let name = host_name(host);
        is_loopback_name(name)
            || self
                .extra_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// The host part of a `Host` header value (`[::1]:80` → `::1`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware of the routes that need auth: sets the request's
/// [`Access`] for the handlers (JSON-RPC checks it per method), refuses a
/// write without the client header (403) and any `POST` under `/v1` with
/// the read-only token (403).
pub(crate) async fn require(
    State(auth): State<Arc<Auth>>,
    mut req: Request,
    next: Next,
) -> Response {
    let access = match auth.access(req.headers()) {
        Ok(access) => access,
        Err(err) => {
            let mut response = err.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
    };
    if req.method() == Method::POST {
        let has_header = req
            .headers()
            .get(CLIENT_HEADER)
            .is_some_and(|v| !v.is_empty());
        if !has_header {
            return ErrorBody::new(
                ErrorCode::Forbidden,
                format!("a write needs the header `{CLIENT_HEADER}` (any value)"),
            )
            .into_response();
        }
        if access == Access::Read && req.uri().path().starts_with("/v1/") {
            return read_only().into_response();
        }
    }
    req.extensions_mut().insert(access);
    next.run(req).await
}

/// The middleware of every route: the host check.
pub(crate) async fn check_host(
    State(auth): State<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    if auth.host_allowed(req.headers()) {
        next.run(req).await
    } else {
        ErrorBody::new(
            ErrorCode::Forbidden,
            "without a token this node answers only requests to a loopback host name",
        )
        .into_response()
    }
}

/// The error of a write with the read-only token.
pub(crate) fn read_only() -> ErrorBody {
    ErrorBody::new(ErrorCode::Forbidden, "the read-only token cannot write")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.insert(*name, value);
            }
        }
        map
    }

    fn auth() -> Auth {
        Auth {
            token: Token::new("full-token-0123456789").ok(),
            read_token: Token::new("read-token-0123456789").ok(),
            extra_hosts: Vec::new(),
        }
    }

    #[test]
    fn tokens_give_their_access() {
        let auth = auth();
        let bearer = |t: &str| headers(&[("authorization", &format!("Bearer {t}"))]);
        assert_eq!(
            auth.access(&bearer("full-token-0123456789")),
            Ok(Access::Full)
        );
        assert_eq!(
            auth.access(&bearer("read-token-0123456789")),
            Ok(Access::Read)
        );
        for bad in [
            bearer("full-token-012345678"),
            headers(&[]),
            headers(&[("authorization", "full-token-0123456789")]),
        ] {
            assert_eq!(
                auth.access(&bad).map_err(|e| e.code),
                Err(ErrorCode::Unauthorized)
            );
        }
        assert_eq!(Auth::default().access(&headers(&[])), Ok(Access::Full));
    }

    #[test]
    fn without_a_token_only_loopback_hosts_are_answered() {
        let open = Auth::default();
        for ok in [
            "localhost:8420",
            "127.0.0.1:1",
            "127.3.4.5",
            "[::1]:8420",
            "LOCALHOST",
        ] {
            assert!(open.host_allowed(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example:8420",
            "10.0.0.1",
            "[2001:db8::1]:80",
            "localhost.evil.example",
        ] {
            assert!(!open.host_allowed(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(auth().host_allowed(&headers(&[("host", "evil.example")])));
    }

    #[test]
    fn tokens_are_checked_when_made() {
        assert_eq!(Token::new("short").err(), Some(TokenError::TooShort(5)));
        assert_eq!(
            Token::new("with a space in it ok").err(),
            Some(TokenError::BadCharacters)
        );
    }
}
