//! The API's errors: a stable code per kind of error ([`ErrorCode`]), its
//! HTTP status, and the JSON body every error response carries
//! ([`ErrorBody`]). [`ErrorCode::of_service`] maps every
//! [`ServiceError`] of the handle.

use paas_core::{ServiceError, Status};
use serde::{Deserialize, Serialize};

/// Why a request failed, as a stable code. Clients match on the code, never
/// on the message.
///
/// | code | HTTP | JSON-RPC | meaning |
/// |---|---|---|---|
/// | `bad_request` | 400 | -32602 | the request is malformed (body, query) |
/// | `unauthorized` | 401 | (HTTP) | no token, or a wrong one |
/// | `forbidden` | 403 | -32003 | a read-only token wrote, or a write lacked the `X-PaaS-Client` header |
/// | `not_found` | 404 | (HTTP) | no such route |
/// | `unknown_task` | 404 | -32004 | no task with this id was submitted |
/// | `method_not_allowed` | 405 | (HTTP) | the route takes another method |
/// | `conflict` | 409 | -32009 | the task changed under the call; read it again |
/// | `not_finished` | 409 | -32010 | the task has no proof yet |
/// | `not_retryable` | 409 | -32011 | the task is queued, running or completed: nothing to retry |
/// | `too_large` | 413 | -32013 | the body, or a batch, is over the limit |
/// | `unsupported_media_type` | 415 | (HTTP) | a JSON body without `Content-Type: application/json` |
/// | `invalid_id` | 422 | -32602 | the key or id names no task id of this node |
/// | `too_heavy` | 422 | -32022 | the task weighs more than its pool's budget: it could never run |
/// | `queue_full` | 429 | -32029 | the backend's queue is full; try later |
/// | `internal` | 500 | -32603 | the store failed for good |
/// | `store_unavailable` | 503 | -32053 | the store failed for now; try later |
/// | `draining` | 503 | -32050 | the service is shutting down and takes no work |
/// | `stopped` | 503 | -32051 | the service has stopped (or crashed) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: no token, or a wrong one.
    Unauthorized,
    /// 403: not allowed with this token, or a write without the client header.
    Forbidden,
    /// 404: no such route.
    NotFound,
    /// 404: no task with this id was submitted.
    UnknownTask,
    /// 405: the route takes another method.
    MethodNotAllowed,
    /// 409: the task changed under the call.
    Conflict,
    /// 409: the task has no proof yet.
    NotFinished,
    /// 409: the task has nothing to retry.
    NotRetryable,
    /// 413: the body or batch is over the limit.
    TooLarge,
    /// 415: a JSON body without a JSON content type.
    UnsupportedMediaType,
    /// 422: the key or id names no task id of this node.
    InvalidId,
    /// 422: the task weighs more than its pool's budget.
    TooHeavy,
    /// 429: the backend's queue is full.
    QueueFull,
    /// 500: the store failed for good.
    Internal,
    /// 503: the store failed for now.
    StoreUnavailable,
    /// 503: the service is shutting down.
    Draining,
    /// 503: the service has stopped.
    Stopped,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::UnknownTask,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::NotFinished,
        ErrorCode::NotRetryable,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidId,
        ErrorCode::TooHeavy,
        ErrorCode::QueueFull,
        ErrorCode::Internal,
        ErrorCode::StoreUnavailable,
        ErrorCode::Draining,
        ErrorCode::Stopped,
    ];

    /// The stable name (`"unknown_task"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UnknownTask => "unknown_task",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotFinished => "not_finished",
            ErrorCode::NotRetryable => "not_retryable",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::TooHeavy => "too_heavy",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::Internal => "internal",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Draining => "draining",
            ErrorCode::Stopped => "stopped",
        }
    }

    /// The HTTP status code that carries it.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::UnknownTask => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::NotFinished | ErrorCode::NotRetryable => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidId | ErrorCode::TooHeavy => 422,
            ErrorCode::QueueFull => 429,
            ErrorCode::Internal => 500,
            ErrorCode::StoreUnavailable | ErrorCode::Draining | ErrorCode::Stopped => 503,
        }
    }

    /// The JSON-RPC error code that carries it (the standard codes where
    /// one fits, otherwise one in the server range -32000 to -32099).
    pub fn rpc_code(self) -> i64 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidId => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Unauthorized => -32001,
            ErrorCode::Forbidden => -32003,
            ErrorCode::NotFound | ErrorCode::UnknownTask => -32004,
            ErrorCode::MethodNotAllowed => -32005,
            ErrorCode::Conflict => -32009,
            ErrorCode::NotFinished => -32010,
            ErrorCode::NotRetryable => -32011,
            ErrorCode::TooLarge => -32013,
            ErrorCode::UnsupportedMediaType => -32015,
            ErrorCode::TooHeavy => -32022,
            ErrorCode::QueueFull => -32029,
            ErrorCode::Draining => -32050,
            ErrorCode::Stopped => -32051,
            ErrorCode::StoreUnavailable => -32053,
        }
    }

    /// Whether the same request may succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::QueueFull | ErrorCode::Conflict | ErrorCode::StoreUnavailable
        )
    }

    /// The code for a handle error.
    pub fn of_service(err: &ServiceError) -> ErrorCode {
        match err {
            ServiceError::QueueFull { .. } => ErrorCode::QueueFull,
            ServiceError::BatchTooLarge { .. } => ErrorCode::TooLarge,
            ServiceError::TooHeavy { .. } => ErrorCode::TooHeavy,
            ServiceError::UnknownTask(_) => ErrorCode::UnknownTask,
            ServiceError::Conflict(_) => ErrorCode::Conflict,
            ServiceError::ShuttingDown => ErrorCode::Draining,
            ServiceError::Stopped | ServiceError::Crashed(_) => ErrorCode::Stopped,
            ServiceError::Store(e) if e.is_transient() => ErrorCode::StoreUnavailable,
            _ => ErrorCode::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response (and the `data` of a JSON-RPC
/// application error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[error("{code}: {message}")]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// The task's status, when the error is about its state
    /// (`not_finished`, `not_retryable`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_status")]
    #[cfg_attr(feature = "server", schema(value_type = Option<crate::wire::schema::StatusSchema>))]
    pub status: Option<Status>,
}

impl ErrorBody {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// Names the task's status.
    #[must_use]
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// The error for a handle error.
    pub fn of_service(err: &ServiceError) -> Self {
        Self::new(ErrorCode::of_service(err), err.to_string())
    }
}

impl From<ServiceError> for ErrorBody {
    fn from(err: ServiceError) -> Self {
        Self::of_service(&err)
    }
}

mod opt_status {
    use paas_core::Status;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(
        status: &Option<Status>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match status {
            Some(status) => s.serialize_str(status.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
        let name = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        name.map(|name| {
            Status::from_name(&name)
                .ok_or_else(|| D::Error::custom(format!("unknown status {name:?}")))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_serde_name_and_a_status() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, code.as_str(), "{code:?}");
            assert!((400..600).contains(&code.http_status()));
            assert!((-32700..=-32000).contains(&code.rpc_code()));
        }
    }

    #[test]
    fn every_service_error_has_a_code() {
        let cases = [
            (
                ServiceError::QueueFull {
                    backend: "native",
                    capacity: 1,
                },
                ErrorCode::QueueFull,
            ),
            (
                ServiceError::BatchTooLarge {
                    backend: "native",
                    size: 2,
                    capacity: 1,
                },
                ErrorCode::TooLarge,
            ),
            (
                ServiceError::TooHeavy {
                    task: "t".into(),
                    backend: "native",
                    weight: 2,
                    budget: 1,
                },
                ErrorCode::TooHeavy,
            ),
            (
                ServiceError::UnknownTask("t".into()),
                ErrorCode::UnknownTask,
            ),
            (ServiceError::Conflict("t".into()), ErrorCode::Conflict),
            (ServiceError::ShuttingDown, ErrorCode::Draining),
            (ServiceError::Stopped, ErrorCode::Stopped),
            (ServiceError::Crashed("disk".into()), ErrorCode::Stopped),
        ];
        for (err, code) in cases {
            assert_eq!(ErrorCode::of_service(&err), code, "{err}");
        }
    }

    #[test]
    fn the_body_round_trips() {
        let body = ErrorBody::new(ErrorCode::NotRetryable, "no").with_status(Status::Proving);
        let json = serde_json::to_string(&body).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"code":"not_retryable","message":"no","status":"proving"}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).ok(), Some(body));
    }
}
