//! Appointments over HTTPS, for a signed-in agent (`core::appointments`):
//! their day (JSON for the console, iCalendar for a calendar program), a
//! booking, a cancellation. A booking or cancellation is in this
//! process's queue before it is answered, and makes every other hub
//! process read the appointments again ([`Input::AppointmentsChanged`]).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;
use visio_protocol::{AgentLogin, KioskId, ServiceId};

use super::App;
use super::accounts::current_agent;
use super::admin::coded_error;
use crate::calendar;
use crate::core::appointments::{Appointment, Kind, NewAppointment, Reference};
use crate::driver::Input;
use crate::store::{AgentRecord, StoreError};

#[derive(Deserialize)]
pub(super) struct Day {
    date: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Booking {
    kiosk_id: KioskId,
    service: ServiceId,
    /// RFC 3339, with its offset: `2026-11-23T10:30:00+01:00`.
    start: String,
    minutes: u32,
    /// A colleague of the service, or none (any agent of the service).
    #[serde(default)]
    agent: Option<AgentLogin>,
}

async fn agent(app: &App, headers: &HeaderMap) -> Result<AgentRecord, Response> {
    current_agent(app, headers).await.ok_or_else(|| coded_error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"))
}

fn internal(e: StoreError) -> Response {
    tracing::error!(error = %e, "appointments failed on the store");
    coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not reach its records; try again")
}

/// The agent's appointments on a local day (today by default): theirs,
/// and those of their services booked with no agent named; with each
/// kiosk's site.
async fn day(app: &App, headers: &HeaderMap, query: &Day) -> Result<(AgentRecord, Date, Vec<(Appointment, String)>), Response> {
    let agent = agent(app, headers).await?;
    let tz = app.settings.catalogue.timezone().clone();
    let date = match &query.date {
        None => Timestamp::now().to_zoned(tz.clone()).date(),
        Some(text) => text.parse().map_err(|_| {
            coded_error(StatusCode::BAD_REQUEST, "bad_date", format!("?date= must be a date such as 2026-11-30, not {text:?}"))
        })?,
    };
    let bound = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp());
    let (Ok(from), Ok(to)) = (bound(date), date.tomorrow().map_err(|e| e.to_string()).and_then(|d| bound(d).map_err(|e| e.to_string())))
    else {
        return Err(coded_error(StatusCode::BAD_REQUEST, "bad_date", format!("{date} is out of range")));
    };
    let sites: HashMap<KioskId, String> = app.store.kiosks().await.map_err(internal)?.into_iter().map(|k| (k.id, k.site)).collect();
    let list = app
        .store
        .appointments_between(from, to)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|a| match &a.slot.agent {
            Some(login) => login == &agent.login,
            None => agent.services.contains(&a.slot.service),
        })
        .map(|a| {
            let site = sites.get(&a.slot.kiosk_id).cloned().unwrap_or_default();
            (a, site)
        })
        .collect();
    Ok((agent, date, list))
}

/// Hands this process's core the appointments as they are now, before
/// the answer (so a resident touching the kiosk right after is served by
/// them), and has every process read them again.
async fn changed(app: &App) {
    match crate::driver::appointments::ahead(&app.store, Timestamp::now()).await {
        Ok(list) => {
            app.driver.send(Input::Appointments(list)).await;
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the appointments back; the next read brings them"),
    }
    app.driver.send(Input::AppointmentsChanged).await;
}

fn appointment_json(a: &Appointment, site: &str) -> serde_json::Value {
    json!({
        "reference": a.reference.to_string(),
        "number": a.reference.0,
        "start": a.slot.start,
        "end": a.slot.end(),
        "minutes": a.slot.minutes,
        "kiosk_id": a.slot.kiosk_id,
        "site": site,
        "service": a.slot.service,
        "agent": a.slot.agent,
        "kind": a.slot.kind,
        "state": if a.cancelled_at.is_some() { "cancelled" } else { "booked" },
    })
}

/// `GET /api/agent/appointments?date=`: the agent's day, by start.
pub(super) async fn list(State(app): State<App>, headers: HeaderMap, Query(query): Query<Day>) -> Response {
    match day(&app, &headers, &query).await {
        Ok((_, date, list)) => axum::Json(json!({
            "date": date,
            "timezone": app.settings.catalogue.timezone_name(),
            "appointments": list.iter().map(|(a, site)| appointment_json(a, site)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(response) => response,
    }
}

/// `GET /api/agent/appointments.ics?date=`: the same day as iCalendar.
pub(super) async fn ics(State(app): State<App>, headers: HeaderMap, Query(query): Query<Day>) -> Response {
    let (agent, date, list) = match day(&app, &headers, &query).await {
        Ok(day) => day,
        Err(response) => return response,
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("visio-public").to_owned();
    let catalogue = &app.settings.catalogue;
    let events: Vec<calendar::Event> = list
        .iter()
        .map(|(a, site)| {
            let service = catalogue.get(&a.slot.service).map_or(a.slot.service.as_str(), |s| s.short_name.as_str());
            let what = match a.slot.kind {
                Kind::Booked => "Rendez-vous",
                Kind::Callback => "Rappel demandé à la borne",
            };
            calendar::Event {
                uid: format!("{}@{}", a.reference, host.split(':').next().unwrap_or("visio-public")),
                start: a.slot.start,
                end: a.slot.end(),
                summary: format!("{what} {service} — {site}"),
                location: format!("{site} (borne {})", a.slot.kiosk_id),
                description: format!("Référence {}. Visio-Public, borne {}.", a.reference, a.slot.kiosk_id),
                cancelled: a.cancelled_at.is_some(),
            }
        })
        .collect();
    let body = calendar::write("-//Visio-Public//Hub//FR", &events, Timestamp::now());
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    let file = format!("attachment; filename=\"rendez-vous-{}-{date}.ics\"", agent.login.as_str().replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `POST /api/agent/appointments`: books a slot of one of the agent's
/// services, with them, a colleague or nobody named.
pub(super) async fn book(
    State(app): State<App>,
    headers: HeaderMap,
    booking: Result<axum::Json<Booking>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let agent = match agent(&app, &headers).await {
        Ok(agent) => agent,
        Err(response) => return response,
    };
    let axum::Json(booking) = match booking {
        Ok(booking) => booking,
        Err(e) => {
            let message = format!("expected {{\"kiosk_id\", \"service\", \"start\", \"minutes\", \"agent\"}} as JSON: {e}");
            return coded_error(StatusCode::BAD_REQUEST, "malformed", message);
        }
    };
    if app.settings.catalogue.get(&booking.service).is_none() {
        let message = format!("there is no service {:?} in the catalogue", booking.service.as_str());
        return coded_error(StatusCode::BAD_REQUEST, "unknown_service", message);
    }
    if !agent.services.contains(&booking.service) {
        let message = format!("you do not serve {:?}: a colleague of that service books it", booking.service.as_str());
        return coded_error(StatusCode::FORBIDDEN, "forbidden", message);
    }
    let Ok(start) = booking.start.parse::<Timestamp>() else {
        let message = format!("start must be a time with its offset, such as 2026-11-23T10:30:00+01:00, not {:?}", booking.start);
        return coded_error(StatusCode::BAD_REQUEST, "bad_time", message);
    };
    let now = Timestamp::now();
    if start + SignedDuration::from_mins(i64::from(booking.minutes)) <= now {
        return coded_error(StatusCode::BAD_REQUEST, "bad_time", "this slot is already over; choose a later time");
    }
    let slot = NewAppointment {
        kiosk_id: booking.kiosk_id,
        service: booking.service,
        start,
        minutes: booking.minutes,
        agent: booking.agent,
        kind: Kind::Booked,
        booked_by: agent.login.0.clone(),
    };
    match app.store.book_appointment(&slot, now).await {
        Ok(booked) => {
            tracing::info!(reference = %booked.reference, service = %booked.slot.service, "appointment booked");
            changed(&app).await;
            let site = app.store.kiosks().await.ok().and_then(|k| k.into_iter().find(|k| k.id == booked.slot.kiosk_id)).map(|k| k.site);
            (StatusCode::CREATED, axum::Json(appointment_json(&booked, &site.unwrap_or_default()))).into_response()
        }
        Err(e @ StoreError::SlotTaken { .. }) => coded_error(StatusCode::CONFLICT, "slot_taken", e.to_string()),
        Err(e @ StoreError::UnknownKiosk(_)) => coded_error(StatusCode::BAD_REQUEST, "unknown_kiosk", e.to_string()),
        Err(e @ StoreError::BadSlot(_)) => coded_error(StatusCode::BAD_REQUEST, "bad_slot", e.to_string()),
        Err(e) => internal(e),
    }
}

/// `POST /api/agent/appointments/{number}/cancel`: cancels a slot of one of
/// the agent's services.
pub(super) async fn cancel(State(app): State<App>, headers: HeaderMap, Path(number): Path<u64>) -> Response {
    let agent = match agent(&app, &headers).await {
        Ok(agent) => agent,
        Err(response) => return response,
    };
    let reference = Reference(number);
    // Only a slot of the agent's services: read it first (around any time).
    let all = app.store.appointments_between(Timestamp::MIN, Timestamp::MAX).await;
    let found = match all {
        Ok(list) => list.into_iter().find(|a| a.reference == reference),
        Err(e) => return internal(e),
    };
    match found {
        Some(a) if agent.services.contains(&a.slot.service) => {}
        _ => return coded_error(StatusCode::NOT_FOUND, "no_such_appointment", format!("no appointment {reference} of your services")),
    }
    match app.store.cancel_appointment(reference, Timestamp::now()).await {
        Ok(true) => {
            changed(&app).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => coded_error(StatusCode::CONFLICT, "already_cancelled", format!("appointment {reference} was already cancelled")),
        Err(e) => internal(e),
    }
}
