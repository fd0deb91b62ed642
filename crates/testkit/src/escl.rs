//! A driverless (eSCL, "AirScan") scanner on a loopback port, and a private
//! SANE configuration that reaches it through sane-airscan, as a kiosk
//! reaches a network or `ipp-usb` scanner.
//!
//! It speaks the part of eSCL that sane-airscan uses: `GET
//! /eSCL/ScannerCapabilities` and `/eSCL/ScannerStatus`, `POST
//! /eSCL/ScanJobs` (answered `201 Created` with the job's `Location`), `GET
//! <job>/NextDocument` (a JPEG page, then `404` when the job has no more)
//! and `DELETE <job>`. The page is made at the size and resolution asked:
//! white with its top-left quarter black, so a test can tell it arrived
//! whole and the right way up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::wait::require;

/// The scanner's name in `airscan.conf`; SANE calls it [`EsclScanner::device`].
pub const NAME: &str = "Visio eSCL";

/// What a scan job asked for and got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanJob {
    /// `scan:XResolution`, dots per inch.
    pub resolution: u32,
    /// `scan:ColorMode`: `RGB24` or `Grayscale8`.
    pub color_mode: String,
    /// `pwg:InputSource`: `Platen` or `Feeder`.
    pub source: String,
    /// The page's size in pixels.
    pub page_px: (u32, u32),
    /// Pages handed out.
    pub pages_served: usize,
}

#[derive(Debug, Default)]
struct Scanner {
    jobs: Vec<ScanJob>,
    /// Every request line, for a failure message.
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Scanner>>;

/// The emulated scanner; stops with the test's runtime or on drop.
#[derive(Debug)]
pub struct EsclScanner {
    pub addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl EsclScanner {
    /// Serves eSCL on a free loopback port.
    pub async fn start() -> EsclScanner {
        let state = Shared::default();
        let app = Router::new()
            .route("/eSCL/ScannerCapabilities", get(capabilities))
            .route("/eSCL/ScannerStatus", get(status))
            .route("/eSCL/ScanJobs", post(create_job))
            .route("/eSCL/ScanJobs/{id}/NextDocument", get(next_document))
            .route("/eSCL/ScanJobs/{id}", axum::routing::delete(|| async { StatusCode::OK }))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(state.clone(), log_request))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        EsclScanner { addr, state, task }
    }

    /// The SANE device name sane-airscan gives it (`e0`: the first eSCL device).
    pub fn device(&self) -> String {
        format!("airscan:e0:{NAME}")
    }

    /// A private SANE configuration with only sane-airscan, which knows
    /// this scanner by its URL and looks for no others (no DNS-SD, no
    /// WS-Discovery: nothing leaves the loopback, and opening is quick).
    pub fn sane_config(&self) -> tempfile::TempDir {
        require("scanimage", "sane-utils");
        assert!(
            ["/usr/lib/x86_64-linux-gnu/sane/libsane-airscan.so.1", "/usr/lib/aarch64-linux-gnu/sane/libsane-airscan.so.1"]
                .iter()
                .any(|p| std::path::Path::new(p).exists()),
            "sane-airscan not found: run scripts/setup.sh (Debian package sane-airscan)"
        );
        let d = tempfile::Builder::new().prefix("visio-airscan-").tempdir().unwrap();
        std::fs::write(d.path().join("dll.conf"), "airscan\n").unwrap();
        let conf = format!(
            "[devices]\n\"{NAME}\" = http://{}/eSCL, eSCL\n\n[options]\ndiscovery = disable\nws-discovery = off\n",
            self.addr
        );
        std::fs::write(d.path().join("airscan.conf"), conf).unwrap();
        d
    }

    /// The jobs asked so far, oldest first.
    pub fn jobs(&self) -> Vec<ScanJob> {
        self.state.lock().unwrap().jobs.clone()
    }

    /// Unplugs the scanner: its port refuses connections from now on.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Every request so far ("GET /eSCL/ScannerStatus -> 200 OK").
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for EsclScanner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn log_request(State(state): State<Shared>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    state.lock().unwrap().requests.push(format!("{line} -> {}", response.status()));
    response
}

const NAMESPACES: &str =
    r#"xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03" xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm""#;

/// Resolutions offered, dots per inch.
const RESOLUTIONS: [u32; 4] = [75, 100, 150, 300];

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

async fn capabilities() -> Response {
    let resolutions: String = RESOLUTIONS
        .iter()
        .map(|r| format!("<scan:DiscreteResolution><scan:XResolution>{r}</scan:XResolution><scan:YResolution>{r}</scan:YResolution></scan:DiscreteResolution>"))
        .collect();
    // Sizes in 1/300 inch: up to A4 (210 x 297 mm) and US Letter's width.
    xml(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerCapabilities {NAMESPACES}>
<pwg:Version>2.63</pwg:Version>
<pwg:MakeAndModel>Visio-Public {NAME}</pwg:MakeAndModel>
<pwg:ModelName>{NAME}</pwg:ModelName>
<scan:Platen><scan:PlatenInputCaps>
<scan:MinWidth>16</scan:MinWidth><scan:MaxWidth>2551</scan:MaxWidth>
<scan:MinHeight>16</scan:MinHeight><scan:MaxHeight>3508</scan:MaxHeight>
<scan:SettingProfiles><scan:SettingProfile>
<scan:ColorModes><scan:ColorMode>RGB24</scan:ColorMode><scan:ColorMode>Grayscale8</scan:ColorMode></scan:ColorModes>
<scan:DocumentFormats><pwg:DocumentFormat>image/jpeg</pwg:DocumentFormat></scan:DocumentFormats>
<scan:SupportedResolutions><scan:DiscreteResolutions>{resolutions}</scan:DiscreteResolutions></scan:SupportedResolutions>
</scan:SettingProfile></scan:SettingProfiles>
</scan:PlatenInputCaps></scan:Platen>
</scan:ScannerCapabilities>
"#
    ))
}

async fn status() -> Response {
    xml(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerStatus {NAMESPACES}><pwg:Version>2.63</pwg:Version><pwg:State>Idle</pwg:State></scan:ScannerStatus>
"#
    ))
}

/// The text of the first `<name>…</name>` in `xml`, any namespace prefix.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = xml.find(&format!(":{name}>"))? + name.len() + 2;
    let len = xml[open..].find('<')?;
    Some(xml[open..open + len].trim())
}

async fn create_job(State(state): State<Shared>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let settings = String::from_utf8_lossy(&body);
    let number = |name: &str| element(&settings, name).and_then(|v| v.parse::<u32>().ok());
    let (Some(resolution), Some(width), Some(height)) = (number("XResolution"), number("Width"), number("Height")) else {
        return (StatusCode::CONFLICT, "ScanSettings without resolution or region").into_response();
    };
    // Width and Height are in 1/300 inch.
    let page_px = ((width * resolution / 300).max(1), (height * resolution / 300).max(1));
    let job = ScanJob {
        resolution,
        color_mode: element(&settings, "ColorMode").unwrap_or("RGB24").to_owned(),
        source: element(&settings, "InputSource").unwrap_or("Platen").to_owned(),
        page_px,
        pages_served: 0,
    };
    let id = {
        let mut state = state.lock().unwrap();
        state.jobs.push(job);
        state.jobs.len()
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    (StatusCode::CREATED, [(header::LOCATION, format!("http://{host}/eSCL/ScanJobs/{id}"))]).into_response()
}

async fn next_document(State(state): State<Shared>, Path(id): Path<usize>) -> Response {
    let job = {
        let mut state = state.lock().unwrap();
        let Some(job) = id.checked_sub(1).and_then(|i| state.jobs.get_mut(i)) else { return StatusCode::NOT_FOUND.into_response() };
        // A flatbed holds one page.
        if job.pages_served == 1 {
            return StatusCode::NOT_FOUND.into_response();
        }
        job.pages_served += 1;
        job.clone()
    };
    let jpeg = tokio::task::spawn_blocking(move || page(job.page_px, job.color_mode == "Grayscale8")).await.unwrap();
    ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response()
}

/// A white page whose top-left quarter is black, as JPEG.
pub fn page((width, height): (u32, u32), gray: bool) -> Vec<u8> {
    let shade = |x: u32, y: u32| if x < width / 2 && y < height / 2 { 0u8 } else { 255 };
    let image: image::DynamicImage = if gray {
        image::GrayImage::from_fn(width, height, |x, y| image::Luma([shade(x, y)])).into()
    } else {
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([shade(x, y); 3])).into()
    };
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).expect("JPEG encoding");
    out.into_inner()
}
