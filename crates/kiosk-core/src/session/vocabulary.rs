//! The session's vocabulary: its configuration, what goes in, what comes
//! out, and what the resident sees.

use std::time::{Duration, Instant};

use visio_protocol::{ConfigRefusal, EndReason, HubToKiosk, IceServer, KioskToHub, Rating, RefusalReason, ResumeToken, ServiceId, SessionId, Signal, DeviceHealth, SoundOutput};

use super::event::KioskEvent;
use super::Receipt;

/// Durations that shape the resident's experience; the kiosk's
/// configuration sets them.
#[derive(Debug, Clone)]
pub struct Config {
    /// Home or the end-of-call screen return to a fresh home (French, no
    /// notice) after this long without a touch.
    pub idle_timeout: Duration,
    /// While waiting, ask "are you still there?" after this long without a
    /// touch…
    pub presence_check_after: Duration,
    /// …and give the place up if nobody answers within this.
    pub presence_grace: Duration,
    /// Services whose scans the resident confirms page by page, on
    /// screen, before anything leaves the kiosk (none by default: the
    /// resident touches nothing).
    pub scan_consent_services: Vec<ServiceId>,
    /// Services that ask for a printed receipt at the end of each call
    /// (the catalogue's `receipt`).
    pub receipt_services: Vec<ServiceId>,
    /// The "end the call?" question closes by itself after this.
    pub hang_up_confirm: Duration,
    /// The end-of-call screen returns home after this…
    pub ended_screen: Duration,
    /// …or after this, once the resident has rated.
    pub after_rating: Duration,
    /// How long "Sent" or "Take your document" stays on screen.
    pub document_notice: Duration,
    /// Hub reconnection backoff: from `min`, doubling, up to `max`.
    pub hub_retry_min: Duration,
    pub hub_retry_max: Duration,
    /// How often to send a heartbeat when the hub's welcome does not say.
    pub heartbeat: Duration,
    /// This app's version, reported in heartbeats.
    pub app_version: String,
    /// The signed configuration the kiosk starts with (its last good one
    /// on disk), if any.
    pub config_version: Option<u64>,
    /// Configuration download retry backoff: from `min`, doubling, up to
    /// `max`.
    pub config_retry_min: Duration,
    pub config_retry_max: Duration,
    /// The media path down this long: restart ICE (2 s lets a short glitch
    /// heal by itself)…
    pub ice_restart_after: Duration,
    /// …and again this long after each restart that did not reconnect.
    pub ice_restart_every: Duration,
    /// The media path down this long: the call is lost (both sides were
    /// reachable through the hub all along, or the agent never came back).
    pub media_give_up: Duration,
    /// A waiting resident whose kiosk lost the hub keeps the waiting
    /// screen this long while the kiosk reconnects (to the same hub
    /// process or another) and asks for its place back.
    pub wait_resume: Duration,
    /// Every automatic return to the home screen is announced this long
    /// ahead, with a "Je suis encore là" that puts it off (EN 301 549
    /// 5.2 / WCAG 2.2.1 ask for at least 20 s).
    pub return_warning: Duration,
    /// The waiting screen offers "Être rappelé" when the hub's estimate is
    /// this long or more, or when it has none (no agent available).
    pub callback_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Duration::from_secs(90),
            presence_check_after: Duration::from_secs(10 * 60),
            presence_grace: Duration::from_secs(60),
            scan_consent_services: Vec::new(),
            receipt_services: Vec::new(),
            hang_up_confirm: Duration::from_secs(10),
            ended_screen: Duration::from_secs(30),
            after_rating: Duration::from_secs(5),
            document_notice: Duration::from_secs(10),
            hub_retry_min: Duration::from_secs(1),
            hub_retry_max: Duration::from_secs(30),
            heartbeat: Duration::from_secs(30),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            config_version: None,
            config_retry_min: Duration::from_secs(30),
            config_retry_max: Duration::from_secs(15 * 60),
            ice_restart_after: Duration::from_secs(2),
            ice_restart_every: Duration::from_secs(15),
            media_give_up: Duration::from_secs(120),
            // The hub keeps a lost process's residents in line this long.
            wait_resume: Duration::from_secs(60),
            return_warning: Duration::from_secs(20),
            callback_wait: Duration::from_secs(20 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Fr,
    En,
}

/// Everything that can happen to a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Any touch on the screen: the resident is there.
    Touch,
    ChooseService(ServiceId),
    SetLanguage(Language),
    /// "Cancel" while waiting.
    Cancel,
    /// "End call" (asks for confirmation).
    HangUp,
    ConfirmHangUp,
    /// "No, continue" on the confirmation.
    KeepCall,
    Rate(Rating),
    NextPage,
    PreviousPage,
    /// The resident's answer on the scan consent screen.
    ScanConsent { accept: bool },
    /// The resident signed the document on screen: the finger's strokes,
    /// in thousandths of the signature box from its top left corner.
    Sign { strokes: Vec<Vec<(u32, u32)>> },
    /// "Je ne signe pas".
    RefuseSign,
    /// "Être rappelé": on a closed service's offer, or while the wait is
    /// long ([`Session::callback_offered`](crate::Session::callback_offered)).
    AskCallback,
    /// The resident touched this callback slot.
    ChooseCallbackSlot(jiff::Timestamp),
    /// "Retour" on the callback screen: to the place in line, or home.
    CloseCallback,
    /// The hub connection is up and the hello is sent.
    HubConnected,
    /// The hub connection failed or dropped.
    HubLost,
    Hub(HubToKiosk),
    Media(MediaEvent),
    Document(DocumentEvent),
    /// The shell ended the last call's documents: every outcome that raced
    /// the call's end (a print that came out as the agent hung up) has
    /// been told. The visit's receipt prints now.
    DocumentsEnded,
    /// Whether the configured camera is there.
    Camera { present: bool },
    /// The devices as the shell last checked them; sent in heartbeats. A
    /// change of state is reported at once.
    Devices(DeviceHealth),
    /// The handset or headset the kiosk's configuration names is plugged
    /// in (or not), as the sound server says. Only kiosks configured with
    /// one send it.
    Handset { present: bool },
    /// What became of a [`ConfigFetchRequest`].
    ConfigFetched(ConfigFetch),
    /// The help controls: speech, volume, easy-read, large text, more time.
    Assist(super::assist::Assist),
}

/// The outcome of fetching, verifying and storing an announced
/// configuration (the shell's `config_store` does all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFetch {
    /// Verified, written to disk, and running now.
    Applied { version: u64 },
    /// Fetched but refused (signature, signer, content, older, or the disk
    /// refused it); the previous configuration keeps running.
    Refused { version: u64, reason: ConfigRefusal },
    /// Not downloaded (network, hub error): tried again later.
    Failed { version: u64, reason: String },
}

/// From the media crate, about the current call.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// Negotiation to send to the agent (our offer, our candidates).
    LocalSignal(Signal),
    Connected,
    /// Media path interrupted (ICE disconnected); it may come back by
    /// itself, else the session asks for an ICE restart.
    Reconnecting,
    /// Media path lost (ICE failed): restart ICE as soon as the hub can
    /// carry the offer.
    Lost,
    FirstRemoteFrame,
    /// The call's statistics (about once a second): its uplink estimate
    /// and media round trip, summarised for the fleet view when it ends.
    Measured { uplink_bps: Option<u64>, rtt: Option<Duration> },
    /// The call could not be set up or broke for good.
    Failed { reason: String },
}

/// From the document-transfer side, during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentEvent {
    /// The agent prepares a scan: tell the resident where to put the
    /// paper (`pages` already scanned in this scan; `feeder`: the pages
    /// may go in the scanner's feeder).
    ScanPlace { pages: u32, feeder: bool },
    /// The scanner runs on page `page` of a prepared scan.
    ScanPageScanning { page: u32 },
    /// The service asks the resident before page `page` of scan `req`
    /// leaves the kiosk (its preview is on screen).
    ScanConsent { req: u32, page: u32 },
    /// The agent cancelled the scan.
    ScanCancelled,
    ScanRequested,
    ScanProgress { percent: u8 },
    ScanSent { name: String, size: u64, sha256: String },
    PrintStarted { name: String },
    Printed { name: String },
    Showing { name: String, pages: u32 },
    /// The agent drives the shown document: page, zoom, pan, pointer.
    View(PageView),
    /// The agent sent a document to sign; it is on screen with its box.
    SignAsked { name: String, pages: u32, area: SignArea },
    /// The agent moved the signature box (the resident signs again there).
    SignMoved(SignArea),
    /// The signed document reached the agent, checked by its hash.
    Signed { name: String, size: u64, sha256: String },
    ShowClosed,
    Failed { reason: String },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open the hub connection (again). `resume`: the call to re-attach to,
    /// sent in the hello.
    ConnectHub { resume: Option<ResumeToken> },
    ToHub(KioskToHub),
    Call(CallCommand),
    Documents(DocumentCommand),
    Event(KioskEvent),
    /// The agent answered: play the chime.
    Chime,
    /// Send the call's sound and the kiosk's speech to this output and cut
    /// the other (the loudspeaker while a handset is in use).
    RouteSound(SoundOutput),
    /// The visit's last call ended with a service that asks for a receipt:
    /// print it (when the kiosk has a printer).
    PrintReceipt(Receipt),
    /// A callback was booked: print its slip (when the kiosk has a
    /// printer).
    PrintCallbackSlip(super::callback::CallbackSlip),
}

/// Download the configuration the hub announced (`GET path` on the hub,
/// HTTP Basic with the kiosk's id and secret), verify it with the trusted
/// admin keys, store it atomically and start using it; then feed
/// [`Input::ConfigFetched`]. From [`Session::poll_config_fetch`](crate::Session::poll_config_fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFetchRequest {
    pub version: u64,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallCommand {
    /// Set up the call and make the offer.
    Start { session: SessionId, ice_servers: Vec<IceServer> },
    RemoteSignal(Signal),
    /// Make a new offer with new ICE credentials on the same connection.
    RestartIce,
    /// The agent's page lost its peer connection (a reload): drop ours and
    /// make a new one with a fresh offer; the visit's documents carry on.
    Reconnect,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentCommand {
    /// The visit is over: delete every file of it.
    WipeSpool,
    /// Whether this visit's service wants the resident's consent on each
    /// scanned page (sent as the call starts).
    RequireScanConsent(bool),
    /// The resident's answer for page `page` of scan `req`.
    ScanConsent { req: u32, page: u32, accept: bool },
    /// The shown document is now viewed this way: draw its page if it is
    /// not yet, and tell the agent what the resident sees.
    ShowView { pages: u32, view: PageView },
    /// Stamp the resident's strokes into the document to sign, with the
    /// date, `site` and the document's hash, and send it to the agent.
    Sign { strokes: Vec<Vec<(u32, u32)>>, site: String },
    /// Tell the agent the resident will not sign; delete the document.
    RefuseSign,
}

/// Where the resident signs: a page (from 1) and a box on it, in
/// thousandths of the page's width and height from its top left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignArea {
    pub page: u32,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// How the shown document is viewed. Points are in thousandths of the
/// page's width and height from its top left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageView {
    /// From 1.
    pub page: u32,
    /// Percent of fit-to-width, [`MIN_ZOOM`](crate::MIN_ZOOM) to [`MAX_ZOOM`](crate::MAX_ZOOM).
    pub zoom: u32,
    /// Centre of what the screen shows (the shell keeps the screen on the page).
    pub center: (u32, u32),
    /// The agent's pointer.
    pub pointer: Option<(u32, u32)>,
}

impl PageView {
    /// A page as it first appears: fit to width, its top, no pointer.
    pub fn top_of(page: u32) -> PageView {
        PageView { page, zoom: crate::MIN_ZOOM, center: (500, 0), pointer: None }
    }
}

/// What the resident sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Connecting,
    OutOfService { reason: OutOfService },
    Home { notice: Option<Notice> },
    /// The call request is on its way to the hub.
    Requesting { service: ServiceId },
    Waiting(Waiting),
    InCall(InCall),
    Ended(Ended),
    /// Being called back instead of a closed service or a long wait.
    Callback(super::callback::Callback),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfService {
    HubUnreachable,
    CameraMissing,
    /// The sound output is missing: nobody could hear the agent.
    SoundMissing,
}

/// A message on the home screen after a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub service: ServiceId,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub service: ServiceId,
    pub session: SessionId,
    pub position: u32,
    pub estimated_wait: Option<Duration>,
    /// "Are you still there?" is showing.
    pub presence_check: bool,
    /// The hub connection dropped: reconnecting, then asking for this
    /// place back.
    pub hub_lost: bool,
    /// An agent of this service handed the resident over: they come
    /// first, and are told so.
    pub transferred_from: Option<ServiceId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InCall {
    pub service: ServiceId,
    pub session: SessionId,
    pub agent_name: String,
    pub answered_at: Instant,
    pub media: MediaState,
    pub confirm_hang_up: bool,
    pub document: DocumentView,
    /// The hub connection dropped; media goes on peer to peer.
    pub hub_lost: bool,
    /// The agent lost the hub; the hub holds the call for them.
    pub agent_away: bool,
    /// Presented to the hub to re-attach after losing it.
    pub resume_token: Option<ResumeToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaState {
    Connecting,
    Connected,
    Reconnecting,
}

/// The document part of the call screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocumentView {
    #[default]
    None,
    /// "Put your document on the scanner" (or "all your pages in its
    /// feeder"), before the agent scans.
    ScanPlace { pages: u32, feeder: bool },
    /// The scanner runs on one page of a prepared scan.
    ScanningPage { page: u32 },
    /// "May this page be sent?" with the page on screen.
    ScanConsent { req: u32, page: u32 },
    Scanning { percent: Option<u8> },
    ScanSent { name: String },
    Printing { name: String },
    Printed { name: String },
    Showing { name: String, pages: u32, page: u32, view: PageView },
    /// The document to sign, its page and box on screen; the resident
    /// signs, clears, or refuses.
    Signing { name: String, pages: u32, area: SignArea },
    /// The signature is being stamped and sent.
    SignSending { name: String },
    /// "Document signé et envoyé".
    Signed { name: String },
    /// "Vous n'avez pas signé" (the agent is told).
    SignRefused { name: String },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub session: SessionId,
    pub reason: EndedReason,
    pub rated: Option<Rating>,
}

/// Why the visit ended, as the resident is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedReason {
    Hub(EndReason),
    CallFailed,
}

impl From<EndedReason> for super::event::VisitEnd {
    fn from(reason: EndedReason) -> Self {
        match reason {
            EndedReason::Hub(r) => super::event::VisitEnd::Hub(r),
            EndedReason::CallFailed => super::event::VisitEnd::CallFailed,
        }
    }
}
