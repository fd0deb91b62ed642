//! Usage figures in the admin console: the session log in the store and
//! the published configuration (for sites and kilometres), through
//! `visio_stats`, the computation `visio-admin stats` runs on an exported
//! log: the same figures either way.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;
use visio_config::ConfigSet;
use visio_stats::Report;
use visio_stats::chart::{self, Chart};

use super::App;
use super::admin::{caller, coded_error};
use crate::roles::Permission;

#[derive(Deserialize)]
pub(super) struct Period {
    from: Option<String>,
    to: Option<String>,
    /// The chart's axis title, in the reader's language.
    label: Option<String>,
}

/// The report for the period asked, or the error to answer.
async fn report(app: &App, headers: &HeaderMap, period: &Period) -> Result<Report, Response> {
    let caller = caller(app, headers, Permission::Usage).await?;
    let date = |name: &str, value: &Option<String>| -> Result<Date, String> {
        let text = value.as_deref().unwrap_or_default();
        text.parse().map_err(|_| format!("?{name}= must be a date such as 2026-11-30, not {text:?}"))
    };
    let (from, to) = match (date("from", &period.from), date("to", &period.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => return Err(coded_error(StatusCode::BAD_REQUEST, "bad_date", e)),
    };
    if from > to {
        return Err(coded_error(StatusCode::BAD_REQUEST, "bad_date", format!("from {from} is after to {to}")));
    }
    let internal = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "usage figures failed on the store");
        coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the session log")
    };
    let Some(published) = app.store.published_config().await.map_err(internal)? else {
        return Err(coded_error(
            StatusCode::NOT_FOUND,
            "not_published",
            "no configuration is published: the figures need its sites and offices",
        ));
    };
    let set = serde_json::from_str::<serde_json::Value>(&published.bundle)
        .ok()
        .and_then(|value| ConfigSet::from_payload(&value["payload"]).ok())
        .ok_or_else(|| coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the published configuration does not parse"))?;
    // The period's visits only, with a day's margin each side for the
    // time zone; the report keeps those of its local days.
    let (tz, day) = (set.catalogue().timezone().clone(), jiff::SignedDuration::from_hours(24));
    let start = from.to_zoned(tz.clone()).ok().and_then(|z| z.timestamp().checked_sub(day).ok()).unwrap_or(jiff::Timestamp::MIN);
    let end = to.to_zoned(tz).ok().and_then(|z| z.timestamp().checked_add(day * 2).ok()).unwrap_or(jiff::Timestamp::MAX);
    let mut records = app.store.session_log_between(start, end).await.map_err(internal)?;
    // An account limited to some kiosks or services sees their visits only.
    records.retain(|r| {
        (caller.kiosks.is_empty() || caller.kiosks.iter().any(|k| k.as_str() == r.kiosk_id))
            && (caller.services.is_empty() || caller.services.iter().any(|s| s.as_str() == r.service))
    });
    Ok(visio_stats::report(&records, from, to, &set))
}

/// `GET /api/admin/usage?from=&to=`: the report as JSON (`visio-admin
/// stats --format json`).
pub(super) async fn json(State(app): State<App>, headers: HeaderMap, Query(period): Query<Period>) -> Response {
    match report(&app, &headers, &period).await {
        Ok(report) => ([(header::CONTENT_TYPE, "application/json")], report.to_json()).into_response(),
        Err(response) => response,
    }
}

/// `GET /api/admin/usage.csv?from=&to=`: `visio-admin stats --format csv`,
/// as a download.
pub(super) async fn csv(State(app): State<App>, headers: HeaderMap, Query(period): Query<Period>) -> Response {
    match report(&app, &headers, &period).await {
        Ok(report) => {
            let name = format!("attachment; filename=\"visio-public-{}-{}.csv\"", report.from, report.to);
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)], report.to_csv())
                .into_response()
        }
        Err(response) => response,
    }
}

/// `GET /api/admin/charts/{name}?from=&to=&label=`: one chart as SVG.
pub(super) async fn chart(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(period): Query<Period>,
) -> Response {
    let Some(which) = Chart::from_name(&name) else {
        let known: Vec<&str> = Chart::ALL.iter().map(|c| c.name()).collect();
        return coded_error(StatusCode::NOT_FOUND, "no_such_chart", format!("no chart {name:?}; there are {}", known.join(", ")));
    };
    match report(&app, &headers, &period).await {
        Ok(report) => {
            let label: String = period.label.as_deref().unwrap_or_default().chars().take(60).collect();
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")], chart::svg(&report, which, &label))
                .into_response()
        }
        Err(response) => response,
    }
}
