//! A fake of the Chillstreams internal API (`/api/v1/internal/pool/*`), following the contract
//! in the reference (§4.3): Bearer check (403 `{"error":"Unauthorized"}`), 400 on a missing
//! `userId`/`deviceId`, active/inactive/unknown users, at most 3 devices per user, a known
//! (user, device) keeps its pool key, and failure modes (slow, 500, garbage body). It records
//! every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Running};

pub const MAX_DEVICES: usize = 3;
pub const DEVICE_LIMIT_MESSAGE: &str = "Maximum 3 devices allowed per user";
pub const INACTIVE_MESSAGE: &str = "User not found or inactive";

/// How the fake answers get-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Sleeps this long before answering normally.
    Slow(Duration),
    /// `500 {"error":"Internal server error"}`.
    Error500,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// HTTP 200, `allowed:true`, but no pool key.
    AllowedWithoutKey,
}

/// One request that reached the fake.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone)]
struct User {
    active: bool,
    pool_key: String,
    pool_key_id: String,
    devices: Vec<String>,
}

#[derive(Debug)]
struct Inner {
    api_key: String,
    mode: Mode,
    users: HashMap<String, User>,
    calls: Vec<Call>,
    usage: Vec<Value>,
    usage_status: StatusCode,
}

#[derive(Clone)]
pub struct FakeChillstreams {
    inner: Arc<Mutex<Inner>>,
    running: Arc<Running>,
}

impl FakeChillstreams {
    /// Starts the fake; `api_key` is the internal API key it accepts.
    pub async fn start(api_key: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            api_key: api_key.to_string(),
            mode: Mode::Normal,
            users: HashMap::new(),
            calls: Vec::new(),
            usage: Vec::new(),
            usage_status: StatusCode::OK,
        }));
        let router = Router::new()
            .route("/api/v1/internal/pool/get-key", post(get_key))
            .route("/api/v1/internal/pool/log-usage", post(log_usage))
            .route("/api/v1/health", get(health))
            .with_state(inner.clone());
        let running = Arc::new(serve(router).await);
        Self { inner, running }
    }

    pub fn url(&self) -> String {
        self.running.url()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An active user with a pool key.
    pub fn add_user(&self, user_id: &str, pool_key: &str, pool_key_id: &str) {
        self.lock().users.insert(
            user_id.to_string(),
            User { active: true, pool_key: pool_key.into(), pool_key_id: pool_key_id.into(), devices: Vec::new() },
        );
    }

    /// Rotates a user's pool key (as Chillstreams does when a key is retired); devices stay.
    pub fn set_pool_key(&self, user_id: &str, pool_key: &str) {
        if let Some(user) = self.lock().users.get_mut(user_id) {
            user.pool_key = pool_key.to_string();
        }
    }

    /// A user whose subscription is inactive.
    pub fn add_inactive_user(&self, user_id: &str) {
        self.lock().users.insert(
            user_id.to_string(),
            User { active: false, pool_key: String::new(), pool_key_id: String::new(), devices: Vec::new() },
        );
    }

    /// Registers devices for a user, as if they had played before.
    pub fn add_devices(&self, user_id: &str, devices: &[&str]) {
        if let Some(user) = self.lock().users.get_mut(user_id) {
            user.devices.extend(devices.iter().map(|d| d.to_string()));
        }
    }

    pub fn devices(&self, user_id: &str) -> Vec<String> {
        self.lock().users.get(user_id).map(|u| u.devices.clone()).unwrap_or_default()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// The status log-usage answers with (default 200).
    pub fn set_usage_status(&self, status: u16) {
        self.lock().usage_status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn get_key_calls(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path.ends_with("/get-key")).collect()
    }

    /// Usage reports accepted with a 2xx.
    pub fn usage_reports(&self) -> Vec<Value> {
        self.lock().usage.clone()
    }

    /// Every `log-usage` request that reached the fake, whatever it answered.
    pub fn usage_attempts(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path.ends_with("/log-usage")).collect()
    }
}

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records the call and checks the Bearer key. `false`: answer [`unauthorized`].
fn admit(state: &Shared, path: &str, headers: &HeaderMap, body: &Value) -> bool {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut inner = lock(state);
    inner.calls.push(Call { path: path.to_string(), authorization: authorization.clone(), body: body.clone() });
    authorization.as_deref() == Some(format!("Bearer {}", inner.api_key).as_str())
}

fn unauthorized() -> Response {
    (StatusCode::FORBIDDEN, Json(json!({"error": "Unauthorized"}))).into_response()
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

async fn get_key(State(state): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !admit(&state, "/api/v1/internal/pool/get-key", &headers, &body) {
        return unauthorized();
    }
    let mode = lock(&state).mode;
    match mode {
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Error500 => {
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "Internal server error"}))).into_response()
        }
        Mode::Garbage => return (StatusCode::OK, "<html>oops</html>").into_response(),
        Mode::AllowedWithoutKey => return Json(json!({"allowed": true, "deviceCount": 1})).into_response(),
        Mode::Normal => {}
    }
    let (Some(user_id), Some(device_id)) = (field(&body, "userId"), field(&body, "deviceId")) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "userId and deviceId are required"}))).into_response();
    };
    let mut inner = lock(&state);
    let Some(user) = inner.users.get_mut(user_id).filter(|u| u.active) else {
        return Json(json!({"allowed": false, "message": INACTIVE_MESSAGE})).into_response();
    };
    if !user.devices.iter().any(|d| d == device_id) {
        if user.devices.len() >= MAX_DEVICES {
            return Json(json!({"allowed": false, "message": DEVICE_LIMIT_MESSAGE, "deviceCount": user.devices.len()}))
                .into_response();
        }
        user.devices.push(device_id.to_string());
    }
    Json(json!({
        "allowed": true,
        "poolKey": user.pool_key,
        "poolKeyId": user.pool_key_id,
        "deviceCount": user.devices.len(),
    }))
    .into_response()
}

async fn log_usage(State(state): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !admit(&state, "/api/v1/internal/pool/log-usage", &headers, &body) {
        return unauthorized();
    }
    if field(&body, "userId").is_none() || field(&body, "action").is_none() {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "userId and action are required"}))).into_response();
    }
    let mut inner = lock(&state);
    let status = inner.usage_status;
    if status.is_success() {
        inner.usage.push(body);
        (status, Json(json!({"success": true}))).into_response()
    } else {
        (status, Json(json!({"error": "Internal server error"}))).into_response()
    }
}

async fn health() -> Json<Value> {
    Json(json!({"success": true, "detail": "OK", "data": null, "error": null}))
}
