//! How requests are read and errors written: extractors whose rejections
//! are the API's typed errors, and [`ErrorBody`] as a response.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::task_key::{KeyHexError, parse_key_hex};
use crate::{ApiTaskId, ErrorBody, ErrorCode};

impl IntoResponse for ErrorBody {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(&self)).into_response();
        if self.code == ErrorCode::QueueFull {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// The code of a rejected body, by the status axum gives it.
fn body_code(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        _ => ErrorCode::BadRequest,
    }
}

impl From<JsonRejection> for ErrorBody {
    fn from(rejection: JsonRejection) -> Self {
        ErrorBody::new(body_code(rejection.status()), rejection.body_text())
    }
}

impl From<BytesRejection> for ErrorBody {
    fn from(rejection: BytesRejection) -> Self {
        ErrorBody::new(body_code(rejection.status()), rejection.body_text())
    }
}

impl From<QueryRejection> for ErrorBody {
    fn from(rejection: QueryRejection) -> Self {
        ErrorBody::new(ErrorCode::BadRequest, rejection.body_text())
    }
}

/// A JSON body; a bad one is `bad_request`, `too_large` or
/// `unsupported_media_type`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ErrorBody;

    async fn from_request(req: Request, state: &S) -> Result<Self, ErrorBody> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// Query parameters; bad ones are `bad_request`.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ErrorBody;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ErrorBody> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The task a URL names by its hex key; one that names none is `invalid_id`.
#[derive(Debug)]
pub(crate) struct TaskPath<I>(pub(crate) I);

impl<I: ApiTaskId, S: Send + Sync> FromRequestParts<S> for TaskPath<I> {
    type Rejection = ErrorBody;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ErrorBody> {
        let Path(key) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ErrorBody::new(ErrorCode::BadRequest, e.body_text()))?;
        parse_key_hex(&key).map(Self).map_err(invalid_key)
    }
}

/// The error of a key that names no task id.
pub(crate) fn invalid_key(err: KeyHexError) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidId, format!("invalid task key: {err}"))
}

/// A task id from its serde form; one that does not fit is `invalid_id`.
pub(crate) fn parse_id<I: ApiTaskId>(value: serde_json::Value) -> Result<I, ErrorBody> {
    serde_json::from_value(value)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidId, format!("invalid task id: {e}")))
}
