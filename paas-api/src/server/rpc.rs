//! `POST /rpc`: JSON-RPC 2.0 over the same operations as the REST routes,
//! with method names in the style of Strata's prover client.
//!
//! | method | params (by name, or by position in this order) | result |
//! |---|---|---|
//! | `prove` | `id`, `priority` (optional) | a [`SubmitResult`] |
//! | `proveMany` | `tasks`: a list of `{id, priority}` | a [`SubmitResponse`] |
//! | `getTaskStatus` | `id` | a [`TaskView`] |
//! | `getProof` | `id` | the proof's bytes in lowercase hex |
//! | `getReport` | none | a [`SummaryView`] |
//! | `getNodes` | none | a [`NodesView`] |
//! | `cancel` | `id` | a [`CancelResponse`] |
//! | `retry` | `id` | a [`RetryResponse`] |
//! | `listTasks` | `status`, `backend`, `cursor`, `limit`, `order` (all optional) | a [`TaskPage`] |
//!
//! A task may be named by `key` (its key in hex) instead of `id`. Batches
//! and notifications work as the specification says: a batch is answered
//! by an array without the notifications' answers, and a request made only
//! of notifications by `204 No Content`. Errors: -32700 (parse error),
//! -32600 (invalid request), -32601 (method not found), -32602 (invalid
//! params, and `invalid_id`), and for the API's own errors the code of
//! [`ErrorCode::rpc_code`] with the [`ErrorBody`] as `data`.
//!
//! [`SubmitResult`]: crate::wire::SubmitResult
//! [`TaskView`]: crate::wire::TaskView
//! [`CancelResponse`]: crate::wire::CancelResponse
//! [`RetryResponse`]: crate::wire::RetryResponse
//! [`SubmitResponse`]: crate::wire::SubmitResponse
//! [`SummaryView`]: crate::wire::SummaryView
//! [`NodesView`]: crate::wire::NodesView
//! [`TaskPage`]: crate::wire::TaskPage

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use super::auth::{Access, read_only};
use super::extract::{invalid_key, parse_id};
use super::{ApiProver, ApiState, calls};
use crate::task_key::parse_key_hex;
use crate::wire::schema::AnyJson;
use crate::wire::{ListParams, SubmitTask};
use crate::{ErrorBody, ErrorCode};

type Id<P> = <P as paas_core::Prover>::TaskId;

/// The methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Prove,
    ProveMany,
    GetTaskStatus,
    GetProof,
    GetReport,
    GetNodes,
    Cancel,
    Retry,
    ListTasks,
}

impl Method {
    const ALL: [Method; 9] = [
        Method::Prove,
        Method::ProveMany,
        Method::GetTaskStatus,
        Method::GetProof,
        Method::GetReport,
        Method::GetNodes,
        Method::Cancel,
        Method::Retry,
        Method::ListTasks,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::Prove => "prove",
            Method::ProveMany => "proveMany",
            Method::GetTaskStatus => "getTaskStatus",
            Method::GetProof => "getProof",
            Method::GetReport => "getReport",
            Method::GetNodes => "getNodes",
            Method::Cancel => "cancel",
            Method::Retry => "retry",
            Method::ListTasks => "listTasks",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the read-only token may not call it.
    fn writes(self) -> bool {
        matches!(
            self,
            Method::Prove | Method::ProveMany | Method::Cancel | Method::Retry
        )
    }
}

/// A JSON-RPC 2.0 request (or send an array of them: a batch).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct RpcRequest {
    /// Always `"2.0"`.
    jsonrpc: String,
    /// `prove`, `proveMany`, `getTaskStatus`, `getProof`, `getReport`, `getNodes`, `cancel`, `retry` or `listTasks`.
    method: String,
    /// By name (an object) or by position (an array).
    #[schema(value_type = Option<AnyJson>)]
    params: Option<Value>,
    /// A string, a number or null; leave it out for a notification.
    #[schema(value_type = Option<AnyJson>)]
    id: Option<Value>,
}

/// A JSON-RPC 2.0 response: `result` or `error` (a batch gets an array).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct RpcResponse {
    /// Always `"2.0"`.
    jsonrpc: String,
    /// The method's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AnyJson>)]
    result: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RpcError>,
    /// The request's id (null when it could not be read).
    #[schema(value_type = AnyJson)]
    id: Value,
}

/// A JSON-RPC error.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct RpcError {
    /// The number: a standard one, or [`ErrorCode::rpc_code`].
    code: i64,
    /// What happened.
    message: String,
    /// For the API's own errors: the [`ErrorBody`] with its stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ErrorBody>)]
    data: Option<Value>,
}

impl RpcError {
    fn standard(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::standard(-32700, format!("Parse error: {detail}"))
    }

    fn invalid_request(detail: &str) -> Self {
        Self::standard(-32600, format!("Invalid Request: {detail}"))
    }

    fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::from(ErrorBody::new(
            ErrorCode::BadRequest,
            format!("Invalid params: {detail}"),
        ))
    }
}

impl From<ErrorBody> for RpcError {
    fn from(body: ErrorBody) -> Self {
        Self {
            code: body.code.rpc_code(),
            message: body.message.clone(),
            data: serde_json::to_value(&body).ok(),
        }
    }
}

/// One message or a batch of them (an array), for the OpenAPI document.
macro_rules! one_or_batch {
    ($schema:ident, $item:ident, $what:literal) => {
        #[doc = concat!("A ", $what, ", or an array of them (a batch).")]
        #[derive(Debug)]
        pub(crate) struct $schema;

        impl utoipa::PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                let item = || Ref::from_schema_name(stringify!($item));
                OneOfBuilder::new()
                    .item(item())
                    .item(ArrayBuilder::new().items(item()))
                    .description(Some(concat!(
                        "A ",
                        $what,
                        ", or an array of them (a batch)."
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $schema {
            fn name() -> std::borrow::Cow<'static, str> {
                stringify!($schema).into()
            }

            fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
                out.push((
                    stringify!($item).to_string(),
                    <$item as utoipa::PartialSchema>::schema(),
                ));
                <$item as utoipa::ToSchema>::schemas(out);
            }
        }
    };
}

one_or_batch!(RpcRequests, RpcRequest, "JSON-RPC request");
one_or_batch!(RpcResponses, RpcResponse, "JSON-RPC response");

/// JSON-RPC 2.0.
///
/// One request or a batch (an array). A request made only of
/// notifications is answered `204 No Content`.
#[utoipa::path(
    post,
    path = "/rpc",
    tag = "rpc",
    request_body(content = RpcRequests, description = "A request, or an array of them (a batch)."),
    params(("x-paas-client" = String, Header, description = "Any value: every POST needs it.")),
    responses(
        (status = 200, description = "The response, or an array of them for a batch; errors are JSON-RPC errors.", body = RpcResponses),
        (status = 204, description = "Only notifications: nothing to answer."),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: no client header.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is over the limit.", body = ErrorBody),
    )
)]
pub(crate) async fn endpoint<P: ApiProver>(
    State(api): State<ApiState<P>>,
    Extension(access): Extension<Access>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ErrorBody::from(rejection).into_response(),
    };
    let message: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return answer(error_response(Value::Null, RpcError::parse_error(e))),
    };
    match message {
        Value::Array(calls) if calls.is_empty() => answer(error_response(
            Value::Null,
            RpcError::invalid_request("an empty batch"),
        )),
        Value::Array(calls) if calls.len() > api.limits.max_batch => answer(error_response(
            Value::Null,
            RpcError::from(ErrorBody::new(
                ErrorCode::TooLarge,
                format!("a batch holds at most {} calls", api.limits.max_batch),
            )),
        )),
        Value::Array(calls) => {
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(a) = one(&api, access, call).await {
                    answers.push(a);
                }
            }
            if answers.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                Json(Value::Array(answers)).into_response()
            }
        }
        call => match one(&api, access, call).await {
            Some(a) => answer(a),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

fn answer(response: Value) -> Response {
    Json(response).into_response()
}

fn error_response(id: Value, error: RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "error": error, "id": id })
}

/// Runs one call; `None` for a notification (no answer).
async fn one<P: ApiProver>(api: &ApiState<P>, access: Access, call: Value) -> Option<Value> {
    let Value::Object(mut call) = call else {
        return Some(error_response(
            Value::Null,
            RpcError::invalid_request("a call is an object"),
        ));
    };
    let id = call.remove("id");
    let notification = id.is_none();
    let id = id.unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Some(error_response(
            Value::Null,
            RpcError::invalid_request("the id is a string, a number or null"),
        ));
    }
    let result = match check(&mut call) {
        Ok((method, params)) => run(api, access, &method, params).await,
        Err(e) => Err(e),
    };
    if notification {
        return None;
    }
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "result": result, "id": id }),
        Err(error) => error_response(id, error),
    })
}

/// The method and params of a well-formed call.
fn check(call: &mut Map<String, Value>) -> Result<(String, Params), RpcError> {
    if call.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(RpcError::invalid_request(r#"`jsonrpc` must be "2.0""#));
    }
    let Some(Value::String(method)) = call.remove("method") else {
        return Err(RpcError::invalid_request("`method` must be a string"));
    };
    let params = match call.remove("params") {
        None => Params::None,
        Some(Value::Array(list)) => Params::ByPosition(list),
        Some(Value::Object(map)) => Params::ByName(map),
        Some(_) => {
            return Err(RpcError::invalid_request(
                "`params` must be an array or an object",
            ));
        }
    };
    Ok((method, params))
}

/// A call's params.
enum Params {
    None,
    ByPosition(Vec<Value>),
    ByName(Map<String, Value>),
}

impl Params {
    /// The param called `name`, or at `position`.
    fn take(&mut self, name: &str, position: usize) -> Option<Value> {
        match self {
            Params::None => None,
            Params::ByPosition(list) => list.get_mut(position).map(Value::take),
            Params::ByName(map) => map.remove(name),
        }
    }

    /// The task the call names: `id` (first by position), or `key` by name.
    fn task<I: crate::ApiTaskId>(&mut self) -> Result<I, RpcError> {
        if let Some(id) = self.take("id", 0) {
            return parse_id(id).map_err(RpcError::from);
        }
        match self.take("key", usize::MAX) {
            Some(Value::String(key)) => parse_key_hex(&key)
                .map_err(invalid_key)
                .map_err(RpcError::from),
            Some(_) => Err(RpcError::invalid_params("`key` is a string")),
            None => Err(RpcError::invalid_params("name the task by `id` or `key`")),
        }
    }
}

async fn run<P: ApiProver>(
    api: &ApiState<P>,
    access: Access,
    method: &str,
    mut params: Params,
) -> Result<Value, RpcError> {
    let Some(method) = Method::from_name(method) else {
        return Err(RpcError::standard(
            -32601,
            format!("Method not found: {method}"),
        ));
    };
    if method.writes() && access == Access::Read {
        return Err(read_only().into());
    }
    Ok(match method {
        Method::Prove => {
            let id = params
                .take("id", 0)
                .ok_or_else(|| RpcError::invalid_params("`id` is missing"))?;
            let priority = match params.take("priority", 1) {
                None | Some(Value::Null) => 0,
                Some(p) => serde_json::from_value(p)
                    .map_err(|e| RpcError::invalid_params(format!("`priority`: {e}")))?,
            };
            let mut out = calls::submit(api, vec![SubmitTask { id, priority }]).await?;
            to_value(out.results.pop())
        }
        Method::ProveMany => {
            let tasks = params
                .take("tasks", 0)
                .ok_or_else(|| RpcError::invalid_params("`tasks` is missing"))?;
            let tasks: Vec<SubmitTask<Value>> = serde_json::from_value(tasks)
                .map_err(|e| RpcError::invalid_params(format!("`tasks`: {e}")))?;
            to_value(calls::submit(api, tasks).await?)
        }
        Method::GetTaskStatus => to_value(calls::detail(api, params.task::<Id<P>>()?).await?),
        Method::GetProof => Value::String(hex::encode(
            calls::proof(api, params.task::<Id<P>>()?).await?,
        )),
        Method::GetReport => to_value(calls::summary(api)),
        Method::GetNodes => to_value(calls::nodes(api).await?),
        Method::Cancel => to_value(calls::cancel(api, params.task::<Id<P>>()?).await?),
        Method::Retry => to_value(calls::retry(api, params.task::<Id<P>>()?).await?),
        Method::ListTasks => {
            let list = ListParams {
                status: string_param(&mut params, "status", 0)?,
                backend: string_param(&mut params, "backend", 1)?,
                cursor: string_param(&mut params, "cursor", 2)?,
                order: string_param(&mut params, "order", 4)?,
                limit: match params.take("limit", 3) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        serde_json::from_value(v)
                            .map_err(|e| RpcError::invalid_params(format!("`limit`: {e}")))?,
                    ),
                },
            };
            to_value(calls::list(api, &list).await.map_err(|mut e| {
                // A bad filter is a bad param.
                if e.code == ErrorCode::BadRequest {
                    e.message = format!("Invalid params: {}", e.message);
                }
                e
            })?)
        }
    })
}

/// An optional string param.
fn string_param(
    params: &mut Params,
    name: &str,
    position: usize,
) -> Result<Option<String>, RpcError> {
    match params.take(name, position) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RpcError::invalid_params(format!("`{name}` is a string"))),
    }
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_calls_are_invalid_requests() {
        let cases = [
            json!({"method": "getReport"}),
            json!({"jsonrpc": "1.0", "method": "getReport"}),
            json!({"jsonrpc": "2.0", "method": 7}),
            json!({"jsonrpc": "2.0", "method": "getReport", "params": 3}),
        ];
        for case in cases {
            let Value::Object(mut call) = case.clone() else {
                continue;
            };
            let code = check(&mut call).err().map(|e| e.code);
            assert_eq!(code, Some(-32600), "{case}");
        }
    }

    #[test]
    fn params_by_name_and_by_position() {
        let mut by_name = Params::ByName(Map::from_iter([("id".to_string(), json!(7))]));
        let mut by_position = Params::ByPosition(vec![json!(7)]);
        assert_eq!(by_name.task::<u64>().ok(), Some(7));
        assert_eq!(by_position.task::<u64>().ok(), Some(7));
        let mut by_key = Params::ByName(Map::from_iter([(
            "key".to_string(),
            json!("0000000000000007"),
        )]));
        assert_eq!(by_key.task::<u64>().ok(), Some(7));
        let mut none = Params::None;
        assert_eq!(none.task::<u64>().err().map(|e| e.code), Some(-32602));
        let mut wrong = Params::ByPosition(vec![json!("seven")]);
        assert_eq!(wrong.task::<u64>().err().map(|e| e.code), Some(-32602));
    }
}
