//! The status page: static files compiled into the binary (no CDN), served
//! at `/` and `/assets/{file}`. The page reads the API with `fetch` and
//! follows `/v1/events`; it asks for a token when the node wants one and
//! keeps it in the tab's session storage, never in a URL.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{ErrorBody, ErrorCode};

const INDEX: &str = include_str!("../page/index.html");
const APP_JS: &str = include_str!("../page/app.js");
const STYLE_CSS: &str = include_str!("../page/style.css");

/// Only the page's own files; no inline script, no other origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/` and `/assets/{file}`.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

/// The status page.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    responses((status = 200, description = "The status page.", content_type = "text/html", body = String))
)]
pub(crate) async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

/// A file of the status page.
#[utoipa::path(
    get,
    path = "/assets/{file}",
    tag = "page",
    params(("file" = String, Path, pattern = "^(app\\.js|style\\.css)$", description = "`app.js` or `style.css`.")),
    responses(
        (status = 200, description = "The file.", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => file("text/javascript; charset=utf-8", APP_JS),
        "style.css" => file("text/css; charset=utf-8", STYLE_CSS),
        _ => ErrorBody::new(ErrorCode::NotFound, "no such file").into_response(),
    }
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
