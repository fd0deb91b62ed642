//! The kiosks' configuration download and the admin API (publish, fleet).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use jiff::Timestamp;
use serde_json::json;
use visio_config::bundle::{Bundle, BundleError};
use visio_protocol::admin::PublishedConfig;
use visio_protocol::{KioskId, Secret};

use crate::shown::shown;
use super::{App, MAX_BUNDLE_BYTES};
use crate::core::Published;
use crate::roles::Permission;
use crate::store::{PublishOutcome, StoredConfig};

// ---------------------------------------------------------------------------
// Configuration for kiosks, and the admin API
// ---------------------------------------------------------------------------

pub(super) fn coded_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into(), "code": code }))).into_response()
}

fn unauthorized(scheme: &'static str, message: &str) -> Response {
    let mut response = coded_error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    response
}

fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Who called the admin API.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    /// The token's name or the console account's login.
    pub name: String,
    /// The kiosks they see; empty: all (tokens, and accounts not limited
    /// to a site).
    pub kiosks: Vec<KioskId>,
    /// The services whose usage they see; empty: all.
    pub services: Vec<visio_protocol::ServiceId>,
}

impl Caller {
    pub fn sees(&self, kiosk: &KioskId) -> bool {
        self.kiosks.is_empty() || self.kiosks.contains(kiosk)
    }
}

/// Who is calling the admin API, if they may do `need`: an admin token
/// (`Authorization: Bearer`, for `visio-admin`; tokens may do everything)
/// or a signed-in console account whose role allows it. Otherwise the 401
/// or 403 to answer.
pub(super) async fn caller(app: &App, headers: &HeaderMap, need: Permission) -> Result<Caller, Response> {
    let refuse = || {
        unauthorized(
            "Bearer realm=\"visio-hub admin\"",
            "an admin token is required: Authorization: Bearer <token> (create one with `visio-hub admin token <name>`)",
        )
    };
    let Some(bearer) = authorization(headers, "Bearer") else {
        let Some(account) = super::console::signed_in(app, headers).await? else { return Err(refuse()) };
        if !account.role.may(need) {
            tracing::info!(login = %shown(&account.login), role = %account.role, ?need, "admin API refused: not allowed for this role");
            return Err(coded_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("the {} role may not do this; ask an admin", account.role),
            ));
        }
        return Ok(Caller { name: account.login, kiosks: account.kiosks, services: account.services });
    };
    let token = Secret(bearer.to_owned());
    match app.store.verify_admin_token(&token).await {
        Ok(Some(name)) => Ok(Caller { name, kiosks: Vec::new(), services: Vec::new() }),
        Ok(None) => {
            tracing::info!("admin API refused: unknown token");
            Err(refuse())
        }
        Err(e) => {
            tracing::error!(error = %e, "admin token check failed on the store");
            Err(coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not check the token; try again"))
        }
    }
}

/// `GET /api/kiosk/config`: the published bundle, byte for byte, for an
/// enrolled kiosk (HTTP Basic with its id and secret). Over HTTPS rather
/// than the WebSocket: a whole-region bundle outgrows the 64 KiB message
/// limit, and HTTP gives ETag revalidation for free.
pub(super) async fn kiosk_config(State(app): State<App>, headers: HeaderMap) -> Response {
    const REALM: &str = "Basic realm=\"visio-hub kiosks\"";
    let credentials = authorization(&headers, "Basic").and_then(|b64| {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some((KioskId(id.to_owned()), Secret(secret.to_owned())))
    });
    let Some((id, secret)) = credentials else {
        return unauthorized(REALM, "kiosk credentials are required: HTTP Basic with the kiosk id and secret");
    };
    let id_shown = id.clone();
    let result = async {
        let Some(_) = app.store.verify_kiosk(&id, &secret).await? else { return Ok(None) };
        Ok::<_, crate::store::StoreError>(Some(app.store.published_config().await?))
    }
    .await;
    let stored = match result {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            tracing::info!(kiosk = %shown(id_shown.as_str()), "configuration fetch refused: wrong id or secret");
            return unauthorized(REALM, "kiosk id or secret not recognised");
        }
        Err(e) => {
            tracing::error!(error = %e, "configuration fetch failed on the store");
            return coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the configuration");
        }
    };
    let Some(stored) = stored else {
        return coded_error(StatusCode::NOT_FOUND, "not_published", "no configuration has been published yet");
    };
    let etag = format!("\"{}\"", stored.meta.payload_sha256);
    let mut response = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        tracing::info!(kiosk = %shown(id_shown.as_str()), version = stored.meta.version, "configuration fetched");
        ([(header::CONTENT_TYPE, "application/json")], stored.bundle).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Why an upload was refused, as an HTTP answer.
fn bundle_refusal(e: &BundleError) -> Response {
    let (status, code) = match e {
        BundleError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
        BundleError::Format { .. } => (StatusCode::BAD_REQUEST, "unsupported_format"),
        BundleError::UntrustedKey { .. } => (StatusCode::FORBIDDEN, "untrusted_key"),
        BundleError::BadSignature { .. } => (StatusCode::FORBIDDEN, "bad_signature"),
        BundleError::HashMismatch => (StatusCode::FORBIDDEN, "hash_mismatch"),
        BundleError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        BundleError::Rollback { .. } => (StatusCode::CONFLICT, "rollback"),
        BundleError::Key { .. } | BundleError::PublicKey(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    coded_error(status, code, format!("configuration refused: {e}"))
}

enum Upload {
    Refused(BundleError),
    NoTrustedKey,
    Stored(PublishOutcome, StoredConfig, Box<Published>),
}

/// `PUT /api/admin/config`: an admin token, and a bundle signed by one of
/// the admin keys this hub trusts. Verified like a kiosk would, stored
/// (last good only, in one transaction), then announced.
pub(super) async fn publish(State(app): State<App>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    // Authenticate before reading megabytes from anyone.
    let admin = match caller(&app, &parts.headers, Permission::Publish).await {
        Ok(caller) => caller.name,
        Err(response) => return response,
    };
    // Past the limit the rest is read and dropped (up to a bound), so the
    // admin's client gets the answer instead of a reset connection; only
    // an authenticated admin gets this far.
    let mut bytes = Vec::new();
    let mut total = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return coded_error(StatusCode::BAD_REQUEST, "malformed", "the upload was cut off; try again");
        };
        total += chunk.len();
        if total <= MAX_BUNDLE_BYTES {
            bytes.extend_from_slice(&chunk);
        } else if total > 8 * MAX_BUNDLE_BYTES {
            break;
        }
    }
    if total > MAX_BUNDLE_BYTES {
        return coded_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a configuration bundle is at most {} MiB", MAX_BUNDLE_BYTES / (1024 * 1024)),
        );
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return coded_error(StatusCode::BAD_REQUEST, "malformed", "the bundle is not UTF-8 text; send the JSON file `visio-admin sign` wrote");
    };
    let by = admin.clone();
    let upload = async {
        let s = &app.store;
        {
            let keys = s.admin_keys().await?;
            if keys.is_empty() {
                return Ok(Upload::NoTrustedKey);
            }
            // Read, verified, then stored under the store's own re-check
            // of the version: two admins (or processes) racing cannot
            // both replace it.
            let current = s.published_config().await?.map(|c| c.meta.version);
            // The same version is let through: the store tells a repeated
            // upload from a different bundle under the same version.
            let verified = match Bundle::verify_update(&text, &keys, current) {
                Ok(v) => v,
                Err(e) => return Ok(Upload::Refused(e)),
            };
            let stored = StoredConfig {
                meta: PublishedConfig {
                    version: verified.version,
                    payload_sha256: verified.payload_sha256.clone(),
                    key_id: verified.key_id.clone(),
                    published_at: Timestamp::now(),
                    published_by: by,
                    size: text.len() as u64,
                    announced_to: None,
                },
                bundle: text,
            };
            let published = Box::new(Published {
                version: verified.version,
                sha256: verified.payload_sha256,
                size: stored.meta.size,
                catalogue: Arc::new(verified.config.catalogue().clone()),
                ice_servers: verified.config.hub().ice_servers.clone(),
            });
            let outcome = s.publish_config(&stored).await?;
            Ok::<_, crate::store::StoreError>(Upload::Stored(outcome, stored, published))
        }
    }
    .await;
    match upload {
        Err(e) => {
            tracing::error!(error = %e, "storing a configuration failed");
            coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not store the configuration; the previous one stays")
        }
        Ok(Upload::NoTrustedKey) => coded_error(
            StatusCode::FORBIDDEN,
            "no_trusted_key",
            "this hub trusts no admin key yet: run `visio-hub admin trust-key ed25519:…` on the hub first",
        ),
        Ok(Upload::Refused(e)) => {
            tracing::warn!(admin = %shown(&admin), error = %e, "configuration upload refused");
            bundle_refusal(&e)
        }
        Ok(Upload::Stored(PublishOutcome::Conflict { current, current_sha256 }, stored, _)) => coded_error(
            StatusCode::CONFLICT,
            if current > stored.meta.version { "rollback" } else { "version_conflict" },
            format!(
                "configuration refused: the hub already serves version {current} (payload sha256 {current_sha256}); \
                 sign the new configuration with a higher --version"
            ),
        ),
        Ok(Upload::Stored(PublishOutcome::AlreadyPublished, stored, _)) => {
            (StatusCode::OK, axum::Json(stored.meta)).into_response()
        }
        Ok(Upload::Stored(PublishOutcome::Published, mut stored, published)) => {
            tracing::info!(admin = %shown(&admin), version = stored.meta.version, key = %stored.meta.key_id, "configuration published");
            let told = app.driver.config_published(*published).await.unwrap_or(0);
            stored.meta.announced_to = Some(told as u32);
            (StatusCode::CREATED, axum::Json(stored.meta)).into_response()
        }
    }
}

/// How the fleet is listed: by id (the default), or `?order=attention`
/// with the kiosks that need attention first (the console's fleet page).
#[derive(serde::Deserialize, Default)]
pub(super) struct FleetQuery {
    #[serde(default)]
    order: Option<String>,
}

/// `GET /api/fleet`: every kiosk, online or not, with what it last said.
pub(super) async fn fleet(
    State(app): State<App>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<FleetQuery>,
) -> Response {
    let caller = match caller(&app, &headers, Permission::Fleet).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let by_attention = query.order.as_deref() == Some("attention");
    match fleet_view(&app).await {
        Ok(mut view) => {
            view.kiosks.retain(|k| caller.sees(&k.kiosk_id));
            if by_attention {
                crate::fleet::by_attention(&mut view);
            }
            axum::Json(view).into_response()
        }
        Err(response) => response,
    }
}

/// The fleet view, or the error to answer.
pub(super) async fn fleet_view(app: &App) -> Result<visio_protocol::admin::FleetView, Response> {
    let Some(online) = app.driver.online().await else {
        return Err(coded_error(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the hub is stopping"));
    };
    let rows = async {
        Ok::<_, crate::store::StoreError>((
            app.store.kiosks().await?,
            app.store.kiosk_statuses().await?,
            app.store.published_config().await?,
        ))
    }
    .await;
    match rows {
        Ok((enrolled, statuses, published)) => Ok(crate::fleet::view(crate::fleet::Inputs {
            now: Timestamp::now(),
            heartbeat_seconds: app.settings.heartbeat_seconds,
            enrolled,
            statuses,
            published,
            online,
        })),
        Err(e) => {
            tracing::error!(error = %e, "fleet view failed on the store");
            Err(coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the fleet"))
        }
    }
}

