//! The admin console's API: sign-in for console accounts (a cookie, like
//! the agent console's, but its own), who is signed in, and the page of one
//! kiosk. The fleet, the configuration upload and the usage figures are the
//! admin API's routes, which take the console's cookie as well as tokens.

use std::net::IpAddr;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;
use visio_protocol::{KioskId, Secret};

use super::admin::{caller, coded_error, fleet_view};
use super::{App, ClientAddr};
use crate::roles::Permission;
use crate::shown::shown;
use crate::store::ConsoleAccount;

/// The console's cookie; not the agents' (`visio_session`), so one
/// browser may hold both and signing out of one leaves the other.
const CONSOLE_COOKIE: &str = "visio_admin";
/// A working day: an admin signs in again the next morning.
const CONSOLE_SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(10);

#[derive(Deserialize)]
pub(super) struct LoginForm {
    login: String,
    password: String,
}

fn account_json(account: &ConsoleAccount) -> serde_json::Value {
    json!({
        "login": account.login,
        "display_name": account.display_name,
        "role": account.role,
        "permissions": account.role.permissions(),
        "kiosks": account.kiosks,
        "services": account.services,
        "sites": account.sites,
    })
}

/// `POST /api/admin/login`: throttled like agents' sign-in, with its own
/// counters (a console login may be an agent's login too).
pub(super) async fn login(
    State(app): State<App>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    form: Result<axum::Json<LoginForm>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(form) = match form {
        Ok(form) => form,
        Err(e) => {
            return coded_error(StatusCode::BAD_REQUEST, "malformed", format!("expected {{\"login\", \"password\"}} as JSON: {e}"));
        }
    };
    let ip: IpAddr = addr.ip();
    let reserved = app.console_throttle.lock().unwrap_or_else(|e| e.into_inner()).reserve(Timestamp::now(), &form.login, ip);
    let reservation = match reserved {
        Ok(reservation) => reservation,
        Err(refused) => {
            let seconds = refused.retry_after.as_secs().max(1);
            tracing::warn!(limit = refused.limit.as_str(), retry_after = seconds, "console sign-in refused: too many failed tries");
            app.metrics.refused(refused.limit);
            let mut response = coded_error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("too many failed attempts; try again in {seconds} s"),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
    };
    let password = Secret(form.password);
    let checked = async {
        let Some(account) = app.store.verify_console_account(&form.login, &password).await? else { return Ok(None) };
        let token = app.store.create_console_session(&account.login, Timestamp::now(), CONSOLE_SESSION_LIFETIME).await?;
        Ok::<_, crate::store::StoreError>(Some((account, token)))
    }
    .await;
    let mut throttle = app.console_throttle.lock().unwrap_or_else(|e| e.into_inner());
    match checked {
        Ok(Some((account, token))) => {
            throttle.succeeded(reservation);
            tracing::info!(login = %shown(&account.login), role = %account.role, "console account signed in");
            let cookie = format!(
                "{CONSOLE_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
                token.expose(),
                CONSOLE_SESSION_LIFETIME.as_secs()
            );
            let mut response = axum::Json(account_json(&account)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("token is URL-safe"));
            response
        }
        Ok(None) => {
            throttle.failed(reservation);
            tracing::warn!(login = %shown(&form.login), address = %ip, "console sign-in failed: login or password not recognised");
            coded_error(StatusCode::UNAUTHORIZED, "unauthorized", "login or password not recognised")
        }
        Err(e) => {
            throttle.undecided(reservation);
            tracing::error!(error = %e, "console sign-in failed on the store");
            coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not check the password; try again")
        }
    }
}

fn console_cookie(headers: &HeaderMap) -> Option<Secret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{CONSOLE_COOKIE}=")).map(|v| Secret(v.to_owned())))
}

/// The console account signed in with this request's cookie, if any; the
/// error to answer if the store cannot tell.
pub(super) async fn signed_in(app: &App, headers: &HeaderMap) -> Result<Option<ConsoleAccount>, Response> {
    let Some(token) = console_cookie(headers) else { return Ok(None) };
    app.store.console_account_for_session(&token, Timestamp::now()).await.map_err(|e| {
        tracing::error!(error = %e, "console session check failed on the store");
        coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not check the session; try again")
    })
}

/// `GET /api/admin/me`: the signed-in account and what its role may do.
pub(super) async fn me(State(app): State<App>, headers: HeaderMap) -> Response {
    match signed_in(&app, &headers).await {
        Ok(Some(account)) => axum::Json(account_json(&account)).into_response(),
        Ok(None) => coded_error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"),
        Err(response) => response,
    }
}

/// `POST /api/admin/logout`: ends the session and expires the cookie.
pub(super) async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = console_cookie(&headers)
        && let Err(e) = app.store.end_console_session(&token).await
    {
        tracing::error!(error = %e, "cannot end a console session");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{CONSOLE_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&expired).expect("static cookie"));
    response
}

/// `GET /api/admin/kiosks/{id}`: one kiosk's line of the fleet view, with
/// the calls it placed today and over the last seven days.
pub(super) async fn kiosk(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = match caller(&app, &headers, Permission::Fleet).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let view = match fleet_view(&app).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let id = KioskId(id);
    // A kiosk outside the account's sites is answered as unknown.
    let Some(kiosk) = view.kiosks.iter().find(|k| k.kiosk_id == id && caller.sees(&k.kiosk_id)) else {
        return coded_error(StatusCode::NOT_FOUND, "no_such_kiosk", format!("no kiosk {:?} is enrolled or configured", id.as_str()));
    };
    // Seven local days and a margin for the time zone: not the whole log.
    let since = view.now - SignedDuration::from_hours(8 * 24);
    let log = match app.store.session_log_between(since, view.now + SignedDuration::from_hours(1)).await {
        Ok(log) => log,
        Err(e) => {
            tracing::error!(error = %e, "session log unreadable for a kiosk page");
            return coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the session log");
        }
    };
    let calls = crate::fleet::calls_of(&log, &id, view.now, app.settings.catalogue.timezone());
    axum::Json(json!({
        "now": view.now,
        "heartbeat_seconds": view.heartbeat_seconds,
        "published": view.published,
        "kiosk": kiosk,
        "calls": calls,
    }))
    .into_response()
}

/// `GET /api/admin/config`: the configuration in force (who published it,
/// when, signed by which key), the one it replaced, and what changed
/// between them. Uploads are `PUT` on the same path.
pub(super) async fn config(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(response) = caller(&app, &headers, Permission::Config).await {
        return response;
    }
    let read = async {
        Ok::<_, crate::store::StoreError>((
            app.store.published_config().await?,
            app.store.previous_config().await?,
            app.store.admin_keys().await?,
        ))
    }
    .await;
    let (published, previous, keys) = match read {
        Ok(read) => read,
        Err(e) => {
            tracing::error!(error = %e, "configuration page failed on the store");
            return coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the configuration");
        }
    };
    let payload = |bundle: &str| serde_json::from_str::<serde_json::Value>(bundle).map(|mut b| b["payload"].take()).ok();
    let changes = match (&previous, &published) {
        (Some(before), Some(after)) => match (payload(&before.bundle), payload(&after.bundle)) {
            (Some(a), Some(b)) => Some(visio_config::diff::diff(&a, &b)),
            _ => None,
        },
        _ => None,
    };
    axum::Json(json!({
        "published": published.map(|p| p.meta),
        "previous": previous.map(|p| p.meta),
        "changes": changes,
        "trusted_keys": keys.iter().map(visio_config::bundle::key_id).collect::<Vec<_>>(),
    }))
    .into_response()
}
