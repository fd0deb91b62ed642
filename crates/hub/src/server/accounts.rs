//! Agent accounts over HTTPS: sign in, sign out, who is signed in.

use std::net::IpAddr;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;
use visio_protocol::{AgentLogin, Secret};

use crate::shown::shown;
use super::{App, ClientAddr, SESSION_COOKIE};

// ---------------------------------------------------------------------------
// Agent accounts over HTTPS
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct LoginForm {
    login: String,
    password: String,
}

pub(super) fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

pub(super) async fn login(
    State(app): State<App>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    form: Result<axum::Json<LoginForm>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(form) = match form {
        Ok(form) => form,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("expected {{\"login\", \"password\"}} as JSON: {e}")),
    };
    let ip: IpAddr = addr.ip();
    let now = Timestamp::now();
    // Reserved before the password is checked, so that tries arriving
    // together cannot all be checked before any failure is recorded.
    let reserved = app.throttle.lock().unwrap_or_else(|e| e.into_inner()).reserve(now, &form.login, ip);
    let reservation = match reserved {
        Ok(reservation) => reservation,
        Err(refused) => return throttled(&app, refused),
    };
    let login = AgentLogin(form.login.clone());
    let password = Secret(form.password);
    let lifetime = app.settings.agent_session_lifetime;
    let checked = async {
        let Some(agent) = app.store.verify_agent(&login, &password).await? else { return Ok(None) };
        let token = app.store.create_agent_session(&agent.login, Timestamp::now(), lifetime).await?;
        Ok::<_, crate::store::StoreError>(Some((agent, token)))
    }
    .await;
    let mut throttle = app.throttle.lock().unwrap_or_else(|e| e.into_inner());
    match checked {
        Ok(Some((agent, token))) => {
            throttle.succeeded(reservation);
            tracing::info!(login = %shown(agent.login.as_str()), "agent signed in");
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
                token.expose(),
                lifetime.as_secs()
            );
            let mut response = axum::Json(json!({
                "login": agent.login,
                "display_name": agent.display_name,
                "services": agent.services,
            }))
            .into_response();
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("token is URL-safe"));
            response
        }
        Ok(None) => {
            throttle.failed(reservation);
            tracing::warn!(login = %shown(&form.login), address = %ip, "sign-in failed: login or password not recognised");
            // Same answer for an unknown login and a wrong password.
            json_error(StatusCode::UNAUTHORIZED, "login or password not recognised")
        }
        Err(e) => {
            throttle.undecided(reservation);
            tracing::error!(error = %e, "login failed on the store");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "the hub could not check the password; try again")
        }
    }
}

/// The answer to a try the throttle refused, counted and logged (without
/// the login or the address: the failed tries before it were logged).
fn throttled(app: &App, refused: crate::throttle::Refused) -> Response {
    let seconds = refused.retry_after.as_secs().max(1);
    tracing::warn!(limit = refused.limit.as_str(), retry_after = seconds, "sign-in refused: too many failed tries");
    app.metrics.refused(refused.limit);
    let mut response =
        json_error(StatusCode::TOO_MANY_REQUESTS, format!("too many failed attempts; try again in {seconds} s"));
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn session_cookie(headers: &HeaderMap) -> Option<Secret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{SESSION_COOKIE}=")).map(|v| Secret(v.to_owned())))
}

pub(super) async fn current_agent(app: &App, headers: &HeaderMap) -> Option<crate::store::AgentRecord> {
    let token = session_cookie(headers)?;
    app.store.agent_for_session(&token, Timestamp::now()).await.ok().flatten()
}

pub(super) async fn me(State(app): State<App>, headers: HeaderMap) -> Response {
    match current_agent(&app, &headers).await {
        Some(agent) => axum::Json(json!({
            "login": agent.login,
            "display_name": agent.display_name,
            "services": agent.services,
        }))
        .into_response(),
        None => json_error(StatusCode::UNAUTHORIZED, "not signed in"),
    }
}

pub(super) async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers) {
        let now = Timestamp::now();
        let agent = app.store.agent_for_session(&token, now).await.ok().flatten();
        let _ = app.store.end_agent_session(&token).await;
        // The agent's open console closes too, here at once and on the
        // other processes through the store.
        if let Some(agent) = agent {
            use crate::store::revocation::{Kind, Revocation};
            if let Err(e) = app.store.revoke(Kind::Agent, agent.login.as_str(), now).await {
                tracing::error!(error = %e, "cannot record a sign-out for the other hub processes");
            }
            let revoked = Revocation { seq: 0, kind: Kind::Agent, name: agent.login.0, at: now };
            app.driver.send(crate::driver::Input::Revoked(vec![revoked])).await;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&expired).expect("static cookie"));
    response
}

