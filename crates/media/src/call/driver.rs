//! The driver task: owns the webrtc-rs connection and the pipelines, serves the handle's commands and webrtc-rs's callbacks, emits events.

use super::*;
use super::setup::with_codec;
use super::documents::data_channel_events;
use super::tracks::{ReceiveSinks, answer_dropped_video, answer_keyframe_requests, receive_track};

pub(super) struct Driver {
    pub(super) pc: Arc<dyn PeerConnection>,
    pub(super) config: CallConfig,
    pub(super) emit: Emitter,
    pub(super) internal_tx: mpsc::UnboundedSender<Internal>,
    pub(super) candidates: CandidateQueue<RTCIceCandidateInit>,
    pub(super) video: Option<Arc<VideoSender>>,
    pub(super) audio: Option<AudioSender>,
    pub(super) video_sender: Option<Arc<dyn RtpSender>>,
    pub(super) video_track: Option<Arc<TrackLocalStaticRTP>>,
    /// The codec webrtc-rs believes our video track carries (it binds the
    /// stream's interceptors with it when the negotiation completes).
    pub(super) track_codec: VideoCodec,
    /// Usable video codecs, most preferred first.
    pub(super) codecs: Vec<VideoCodec>,
    /// The negotiated codec we send.
    pub(super) send_codec: Option<VideoCodec>,
    /// The peer's video payload types, from its description.
    pub(super) remote_video: Vec<(u8, VideoCodec)>,
    pub(super) received_codec: Arc<OnceLock<VideoCodec>>,
    pub(super) audio_sender: Option<Arc<dyn RtpSender>>,
    pub(super) video_send: watch::Sender<Option<(PayloadType, VideoCodec)>>,
    pub(super) audio_pt: watch::Sender<Option<PayloadType>>,
    pub(super) frames: Arc<FrameSlot>,
    pub(super) local: Arc<FrameSlot>,
    pub(super) audio_meter: Arc<AudioMeter>,
    pub(super) picture_lost: Arc<Notify>,
    pub(super) controller: AdaptationController,
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) data_channel_created: bool,
    /// Documents channels opened again this call ([`documents`](super::documents)).
    pub(super) documents_reopens: u32,
    /// The documents channel this side opened (the offerer's), to wake
    /// webrtc-rs's driver with ([`Driver::wake_ice_checks`]).
    pub(super) documents: Option<Arc<dyn DataChannel>>,
    /// Whether this side made the first offer; `None` before any.
    pub(super) offerer: Option<bool>,
    /// Our ICE user fragment, put on the candidates we send so the peer can
    /// tell generations apart (webrtc-rs leaves it out).
    pub(super) local_ufrag: Option<String>,
    /// Set at the first `Connected`: what happens then happens once a call.
    pub(super) was_connected: bool,
    pub(super) last_stats: Option<(Instant, u64, u64, u64)>,
    /// Shared with the uplink estimator: what the data channel sends.
    pub(super) data_uplink: crate::estimate::DataUplink,
    /// Shared with our pacer: what loss repair did.
    pub(super) repair: Arc<RepairCounts>,
    /// The estimate the pacer follows when the peer sends no TWCC.
    pub(super) reported: crate::report_estimate::ReportedRate,
    /// Fed from the peer's receiver reports, when its description does
    /// not negotiate transport-wide feedback.
    pub(super) report_estimate: Option<crate::report_estimate::ReportEstimate>,
    /// Forward error correction of our video (`crate::fec`).
    pub(super) fec: crate::fec::FecControl,
    /// Data-channel bytes sent at the last stats.
    pub(super) data_sent: Option<(Instant, u64)>,
    pub(super) last_audio_decoded: u64,
    pub(super) state: CallState,
    /// TURN over TCP/TLS for webrtc-rs, open as long as the call.
    pub(super) _turn_bridges: crate::turn_bridge::TurnBridges,
}

impl Driver {
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut moves: watch::Receiver<f64>,
    ) {
        let mut stats = tokio::time::interval(STATS_INTERVAL);
        stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hang_up_reply = None;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::HangUp(reply)) => { hang_up_reply = Some(reply); break; }
                    Some(command) => self.handle_command(command).await,
                    // Every handle dropped: nobody can end the call any more, so end it now.
                    None => break,
                },
                Some(event) = internal.recv() => {
                    if self.handle_internal(event).await { break; }
                }
                Ok(()) = moves.changed() => {
                    let estimate = *moves.borrow_and_update();
                    self.uplink_moved(estimate);
                }
                _ = stats.tick() => {
                    if self.state == CallState::Connected { self.poll_stats().await; }
                }
            }
        }
        self.shutdown().await;
        if let Some(reply) = hang_up_reply {
            let _ = reply.send(());
        }
    }

    async fn shutdown(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(v) = &self.video {
            v.stop();
        }
        if let Some(a) = &self.audio {
            a.stop();
        }
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        self.frames.close();
        self.local.close();
        if self.state != CallState::Closed {
            self.state = CallState::Closed;
            self.emit.send(CallEvent::State(CallState::Closed));
        }
    }

    async fn handle_command(&mut self, command: Command) {
        match command {
            Command::CreateOffer(reply) => {
                let _ = reply.send(self.create_offer().await);
            }
            Command::AcceptOffer(offer, reply) => {
                let _ = reply.send(self.accept_offer(offer).await);
            }
            Command::SetAnswer(answer, reply) => {
                let _ = reply.send(self.set_answer(answer).await);
            }
            Command::RestartIce(reply) => {
                let _ = reply.send(self.restart_ice().await);
            }
            Command::AddCandidate(candidate, reply) => {
                let _ = reply.send(self.add_candidate(candidate).await);
            }
            Command::Mute(muted) => {
                if let Some(a) = &self.audio {
                    a.set_muted(muted);
                }
            }
            Command::SendingDocuments(sending) => {
                self.controller.set_sending_documents(sending);
                self.data_uplink.set_waiting(sending);
            }
            Command::RequestKeyframe => self.picture_lost.notify_one(),
            Command::HangUp(_) => {}
        }
    }

    async fn create_offer(&mut self) -> Result<SessionDescription, CallError> {
        if !self.data_channel_created {
            self.open_documents_channel().await?;
        }
        if self.offerer == Some(false) {
            return Err(CallError::Sequence("this side answered the call; only the offerer makes offers".into()));
        }
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer.clone()).await?;
        self.offerer = Some(true);
        self.local_ufrag = ice_ufrag(&offer.sdp);
        if self.state == CallState::New {
            self.set_state(CallState::Connecting);
        }
        tracing::debug!("offer made");
        Ok(SessionDescription::offer(offer.sdp))
    }

    async fn restart_ice(&mut self) -> Result<SessionDescription, CallError> {
        match self.offerer {
            Some(true) => {}
            Some(false) => {
                return Err(CallError::Sequence(
                    "only the offerer restarts ICE; the answerer takes the new offer with accept_offer".into(),
                ));
            }
            None => return Err(CallError::Sequence("ICE restart before the call was offered".into())),
        }
        if self.pc.remote_description().await.is_none() {
            return Err(CallError::Sequence("ICE restart before the peer answered the first offer".into()));
        }
        // The next offer carries fresh credentials; the restart itself
        // happens as it is set locally (webrtc-rs then gathers again).
        self.pc.restart_ice().await?;
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer.clone()).await?;
        let ufrag = ice_ufrag(&offer.sdp);
        tracing::info!(old = ?self.local_ufrag, new = ?ufrag, state = ?self.state, "ICE restart offered");
        self.local_ufrag = ufrag;
        Ok(SessionDescription::offer(offer.sdp))
    }

    async fn accept_offer(&mut self, offer: SessionDescription) -> Result<SessionDescription, CallError> {
        if offer.kind != SdpKind::Offer {
            return Err(CallError::Sequence("accept_offer was given an answer; pass it to set_answer".into()));
        }
        if self.offerer == Some(true) {
            return Err(CallError::Sequence("this side made the offer; the peer's reply goes to set_answer".into()));
        }
        check_remote_sdp(&offer.sdp, &self.codecs).map_err(|problem| CallError::BadDescription { what: "offer", problem })?;
        // Only the offerer (the kiosk) sends FEC: an answerer declines it.
        let offer = SessionDescription::offer(without_video_fec(&offer.sdp));
        self.choose_estimator(&offer.sdp);
        self.prepare_video(&offer.sdp).await?;
        let ufrag = ice_ufrag(&offer.sdp);
        let desc = RTCSessionDescription::offer(offer.sdp)?;
        // On a live call with new credentials webrtc-rs restarts ICE here,
        // keeping DTLS, SCTP and the tracks.
        self.pc.set_remote_description(desc).await?;
        self.offerer = Some(false);
        self.remote_description_set(ufrag.as_deref()).await;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer.clone()).await?;
        let local = ice_ufrag(&answer.sdp);
        if self.local_ufrag.is_some() && local != self.local_ufrag {
            tracing::info!(old = ?self.local_ufrag, new = ?local, state = ?self.state, "ICE restart answered");
        }
        self.local_ufrag = local;
        if self.state == CallState::New {
            self.set_state(CallState::Connecting);
        }
        // Always `a=setup:active`: our answerers are DTLS clients
        // (`with_answering_dtls_role` in setup.rs), as the agent console's
        // browser is, so the kiosk, the offerer, is the server.
        Ok(SessionDescription::answer(answer.sdp))
    }

    async fn set_answer(&mut self, answer: SessionDescription) -> Result<(), CallError> {
        if answer.kind != SdpKind::Answer {
            return Err(CallError::Sequence("set_answer was given an offer; pass it to accept_offer".into()));
        }
        if self.pc.local_description().await.is_none() {
            return Err(CallError::Sequence("an answer arrived before this side made an offer".into()));
        }
        check_remote_sdp(&answer.sdp, &self.codecs).map_err(|problem| CallError::BadDescription { what: "answer", problem })?;
        self.choose_estimator(&answer.sdp);
        self.prepare_video(&answer.sdp).await?;
        let ufrag = ice_ufrag(&answer.sdp);
        // The offer says `actpass`; the peer's answer picks our role (the
        // agent console's browser answers `active`: we are the server).
        let dtls = offerer_dtls_role(&answer.sdp);
        let desc = RTCSessionDescription::answer(answer.sdp)?;
        self.pc.set_remote_description(desc).await?;
        self.remote_description_set(ufrag.as_deref()).await;
        tracing::info!(?dtls, "answer applied");
        Ok(())
    }

    /// A peer whose description does not negotiate transport-wide feedback
    /// never sends it: the estimate then follows its receiver reports.
    fn choose_estimator(&mut self, remote_sdp: &str) {
        if crate::report_estimate::negotiates_twcc(remote_sdp) {
            self.report_estimate = None;
            self.reported.set(0.0);
        } else if self.report_estimate.is_none() {
            tracing::info!("the peer sends no transport-wide feedback: the uplink estimate follows its receiver reports");
            let b = EstimateBounds::of(&self.config);
            self.report_estimate = Some(crate::report_estimate::ReportEstimate::new(b.initial, b.min, b.max));
        }
    }

    /// Reads the codec to send from the peer's description before webrtc-rs
    /// applies it: webrtc-rs binds the track's interceptors (NACK, TWCC,
    /// reports) to the track's codec as it applies the description, so the
    /// track must name the right codec by then. Then starts that encoder.
    async fn prepare_video(&mut self, remote_sdp: &str) -> Result<(), CallError> {
        self.remote_video = remote_video_codecs(remote_sdp);
        self.fec.remote = video_fec_payload_types(remote_sdp).map(|(red, ulpfec)| crate::fec::FecPayloadTypes { red, ulpfec });
        let Some(codec) = choose_video_codec(remote_sdp, &self.codecs) else { return Ok(()) };
        let (Some(sender), Some(track), Some(video)) = (&self.video_sender, &self.video_track, &self.video) else {
            return Ok(());
        };
        if self.send_codec.is_some_and(|c| c != codec) {
            return Err(CallError::Sequence(format!(
                "the peer switched the video codec from {} to {codec}; changing codec within a call is not supported",
                self.track_codec
            )));
        }
        if self.track_codec != codec {
            let renamed = with_codec(&track.track().await, codec_parameters(codec).rtp_codec);
            sender.replace_track(Arc::new(TrackLocalStaticRTP::new(renamed))).await?;
            self.track_codec = codec;
        }
        let video = Arc::clone(video);
        tokio::task::spawn_blocking(move || video.attach_encoder(codec))
            .await
            .map_err(|e| CallError::Pipeline(format!("encoder start-up panicked: {e}")))??;
        self.send_codec = Some(codec);
        tracing::debug!(%codec, "sending video");
        Ok(())
    }

    async fn remote_description_set(&mut self, ufrag: Option<&str>) {
        self.candidates.handle_remote_description(ufrag);
        let mut added = false;
        while let Some(candidate) = self.candidates.poll_ready() {
            let line = candidate.candidate.clone();
            match self.pc.add_ice_candidate(candidate).await {
                Ok(()) => added = true,
                Err(e) => self.emit.send(CallEvent::Error(CallError::BadCandidate { candidate: line, reason: e.to_string() })),
            }
        }
        if added {
            self.wake_ice_checks().await;
        }
    }

    /// Has webrtc-rs check a remote candidate now. Its `add_ice_candidate`
    /// (0.21.1) does not wake the connection's driver, which then sleeps out
    /// its 200 ms ICE check timer before the first check: 185 ms of a
    /// satellite call's start. Setting the documents channel's low-water mark
    /// to what it is wakes the driver (any call that queues work does), and
    /// changes nothing. Only before the first connection: the channel cannot
    /// be open yet, so no transfer sets the mark meanwhile; after an ICE
    /// restart the checks wait for the timer as before.
    async fn wake_ice_checks(&self) {
        let Some(channel) = self.documents.as_ref().filter(|_| !self.was_connected) else { return };
        if let Ok(threshold) = channel.buffered_amount_low_threshold().await {
            let _ = channel.set_buffered_amount_low_threshold(threshold).await;
        }
    }

    async fn add_candidate(&mut self, candidate: IceCandidate) -> Result<(), CallError> {
        if candidate.candidate.trim().is_empty() {
            return Ok(()); // end-of-candidates marker
        }
        let ufrag = candidate.username_fragment.clone();
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate.clone(),
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_m_line_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        match self.candidates.handle_candidate(ufrag.as_deref(), init) {
            CandidateVerdict::Apply(init) => {
                tracing::debug!(candidate = %candidate.candidate, "remote candidate");
                self.pc
                    .add_ice_candidate(init)
                    .await
                    .map_err(|e| CallError::BadCandidate { candidate: candidate.candidate, reason: e.to_string() })?;
                self.wake_ice_checks().await;
            }
            CandidateVerdict::Held => {}
            CandidateVerdict::Stale => tracing::debug!(?ufrag, "candidate of a replaced ICE generation dropped"),
        }
        Ok(())
    }

    fn set_state(&mut self, state: CallState) {
        if self.state != state {
            self.state = state;
            self.emit.send(CallEvent::State(state));
        }
    }

    /// Returns true when the call is over.
    async fn handle_internal(&mut self, event: Internal) -> bool {
        match event {
            Internal::LocalCandidate(init) => {
                tracing::debug!(candidate = %init.candidate, "local candidate");
                self.emit.send(CallEvent::LocalCandidate(IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_m_line_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment.or_else(|| self.local_ufrag.clone()),
                }))
            }
            Internal::State(state) => {
                tracing::debug!(?state, "peer connection state");
                let mapped = match state {
                    RTCPeerConnectionState::Connecting if self.state != CallState::New => CallState::Connecting,
                    RTCPeerConnectionState::Connected => CallState::Connected,
                    RTCPeerConnectionState::Disconnected => CallState::Disconnected,
                    RTCPeerConnectionState::Failed => CallState::Failed,
                    RTCPeerConnectionState::Closed => return true,
                    _ => return false,
                };
                if mapped == CallState::Connected && !self.was_connected {
                    self.was_connected = true;
                    self.on_connected().await;
                } else if mapped == CallState::Connected && self.state != CallState::Connected {
                    // Back after a cut: the peer's decoder lost packets meanwhile.
                    if let Some(video) = &self.video {
                        video.force_keyframe();
                    }
                }
                self.set_state(mapped);
            }
            // The ClientHello waits in webrtc-rs's queue for the driver's next
            // pass (vendor/README.md, rtc): one now.
            Internal::IceConnected => self.wake_ice_checks().await,
            Internal::DataChannel(channel) => {
                self.tasks.push(tokio::spawn(data_channel_events(channel, self.emit.clone(), self.data_uplink.clone())));
            }
            Internal::Track(track) => {
                let sinks = ReceiveSinks {
                    audio_sink: self.config.audio.sink.clone(),
                    frames: Arc::clone(&self.frames),
                    audio: Arc::clone(&self.audio_meter),
                    remote_video: self.remote_video.clone(),
                    received_codec: Arc::clone(&self.received_codec),
                    fec: self.fec.remote,
                };
                self.tasks.push(tokio::spawn(receive_track(track, sinks, Arc::clone(&self.picture_lost), self.internal_tx.clone())));
            }
            Internal::DocumentsClosed => self.documents_closed(),
            Internal::ReopenDocuments => self.reopen_documents().await,
            Internal::RemoteVideoStarted(width, height) => self.emit.send(CallEvent::RemoteVideoStarted { width, height }),
            Internal::Error(e) => self.emit.send(CallEvent::Error(e)),
        }
        false
    }

    async fn on_connected(&mut self) {
        // Negotiated payload types open the sample writers: writing earlier
        // only fails (no SRTP keys before DTLS completes).
        // A sender without parameters sends nothing: say so rather than
        // leave a call that is up with no sound or picture and no message.
        if let Some(sender) = &self.audio_sender {
            match sender.get_parameters().await {
                Ok(params) => match params.rtp_parameters.codecs.first() {
                    Some(codec) => {
                        self.audio_pt.send_replace(Some(codec.payload_type));
                    }
                    None => self.emit.send(CallEvent::Error(CallError::Transport(
                        "webrtc-rs negotiated no audio codec; no sound is sent".into(),
                    ))),
                },
                Err(e) => self.emit.send(CallEvent::Error(CallError::Transport(format!(
                    "the audio sender's parameters ({e}); no sound is sent"
                )))),
            }
        }
        if let (Some(sender), Some(codec)) = (&self.video_sender, self.send_codec) {
            // The peer's payload type for the codec we chose (not its position:
            // the list is what both sides accept, not only what we send).
            match sender.get_parameters().await.map(|params| {
                let fec = self.fec.negotiated(params.rtp_parameters.codecs.iter().map(|c| (c.rtp_codec.mime_type.as_str(), c.payload_type)));
                tracing::debug!(?fec, "video forward error correction");
                params.rtp_parameters.codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(codec.mime_type())).cloned()
            }) {
                Ok(Some(negotiated)) => {
                    self.video_send.send_replace(Some((negotiated.payload_type, codec)));
                }
                Ok(None) => self.emit.send(CallEvent::Error(CallError::Transport(format!(
                    "{codec} was chosen from the peer's description but webrtc-rs did not negotiate it; no video is sent"
                )))),
                Err(e) => self.emit.send(CallEvent::Error(CallError::Transport(format!(
                    "the video sender's parameters ({e}); no video is sent"
                )))),
            }
        }
        if let (Some(track), Some(video)) = (&self.video_track, &self.video) {
            // The track is bound now, so its RTCP can be polled.
            self.tasks.push(tokio::spawn(answer_keyframe_requests(Arc::clone(track), Arc::clone(video))));
            self.tasks.push(tokio::spawn(answer_dropped_video(Arc::clone(&self.repair), Arc::clone(video))));
            // Frames sent before the connection were dropped: start with a keyframe.
            video.force_keyframe();
        }
    }
}
