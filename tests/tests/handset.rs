//! Handset privacy (issue 23 item 2), with a private PulseAudio's virtual
//! devices: a loudspeaker and a handset (two null sinks, the handset
//! plugged in and out as a USB handset would be). While the handset is
//! there the call's sound and the kiosk's speech go to it and the
//! loudspeaker is cut; unplugged, the sound comes back to the loudspeaker;
//! the agent is told which is in use. What each sink plays is heard on its
//! monitor.

use std::time::Duration;

use visio_tests::agent::ScriptedAgent;
use visio_tests::{AGENT, World};
use visio_protocol::{AgentToHub, HubToAgent, SoundOutput};
use visio_testkit::hub::Agent;
use visio_testkit::sound::SoundServer;
use visio_testkit::wait::{eventually, init_tracing};

/// Half a second on a monitor: the agent's 880 Hz tone is far above 1000.
const LISTEN: Duration = Duration::from_millis(500);
const HEARD: u16 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_goes_to_the_handset_and_back_to_the_loudspeaker_when_it_is_unplugged() {
    init_tracing();
    let sound = SoundServer::start();
    let handset = sound.plug_sink("handset");
    let mut settings = visio_hub::server::Settings::new(std::sync::Arc::new(visio_config::Catalogue::demo()));
    settings.heartbeat_seconds = 1;
    let world = World::start_with(settings).await;
    let mut kiosk_file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&world.config).unwrap()).unwrap();
    kiosk_file["devices"]["sound"] = serde_json::json!({ "loudspeaker": "speaker", "handset": "handset" });
    std::fs::write(&world.config, kiosk_file.to_string()).unwrap();

    let mut agent = Agent::connect(&world.hub, AGENT.0, AGENT.1).await;
    let mut kiosk = world.kiosk_adjusted("demo", |c| {
        let (name, value) = sound.env();
        c.env_remove("VISIO_AUDIO_SINK").env(name, value);
    });
    kiosk.event("queued").await;
    // The handset is there: the loudspeaker is cut before any call.
    let s = &sound;
    eventually("the loudspeaker cut for the handset", || async move { s.muted("speaker").then_some(()) }).await;
    // The hub knows where the kiosk's sound goes once it has said so.
    agent
        .wait_for("the kiosk in the queue", |m| visio_testkit::hub::waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"]))
        .await;
    let token = world.hub.admin(&visio_testkit::hub::admin_key(1));
    eventually("the handset in use in the fleet view", || async {
        let row = world.hub.fleet(&token).await.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "demo-kiosk")?;
        row.devices.and_then(|d| d.sound_output).filter(|o| *o == SoundOutput::Handset)
    })
    .await;
    agent.send(AgentToHub::TakeNext { service: None }).await;
    let started = agent.wait_for("call_started", |m| matches!(m, HubToAgent::CallStarted { .. })).await;
    let HubToAgent::CallStarted { session, devices, .. } = started else { unreachable!() };
    assert_eq!(devices.and_then(|d| d.sound_output), Some(SoundOutput::Handset), "the agent sees the handset in use");

    let (mut scripted, _to_hub) = ScriptedAgent::answer(agent, session).await;
    kiosk.event("connected").await;
    // The agent's voice plays on the handset only.
    let on_handset = eventually("the call's sound on the handset", || async move {
        let streams = s.streams_on();
        (!streams.is_empty() && streams.iter().all(|sink| sink == "handset")).then_some(streams)
    })
    .await;
    let heard = eventually("the agent's voice on the handset's monitor", || async move {
        Some(s.peak_on("handset", LISTEN)).filter(|&p| p > HEARD)
    })
    .await;
    assert!(heard > HEARD);
    assert_eq!(sound.peak_on("speaker", LISTEN), 0, "nothing in the room: {on_handset:?}");

    // A prompt opens a new stream the way the kiosk's speech does (its
    // pipeline into the server's default output): it goes to the handset too.
    let (name, value) = sound.env();
    assert_eq!(name, "PULSE_SERVER");
    let sink = format!("pulsesink server={}", value.trim_start_matches("unix:"));
    let speaking = std::thread::spawn(move || {
        let prompt = "Votre conseiller vous écoute. Parlez dans le combiné. Pour terminer, touchez le bouton rouge.";
        visio_kiosk::speech::render(prompt, visio_kiosk_core::Language::Fr, visio_kiosk_core::VOLUME_DEFAULT, &sink)
    });
    let both = eventually("the call and the prompt both on the handset", || async move {
        let streams = s.streams_on();
        (streams.len() >= 2 && streams.iter().all(|sink| sink == "handset")).then_some(streams)
    })
    .await;
    assert_eq!(sound.peak_on("speaker", LISTEN), 0, "the prompt is not heard in the room: {both:?}");
    speaking.join().unwrap().expect("the prompt played");

    // The handset is unplugged: the loudspeaker again, and the agent told.
    sound.unplug(&handset);
    eventually("the loudspeaker back", || async move { (!s.muted("speaker")).then_some(()) }).await;
    let loud = eventually("the agent's voice in the room", || async move { Some(s.peak_on("speaker", LISTEN)).filter(|&p| p > HEARD) }).await;
    assert!(loud > HEARD);
    assert!(sound.streams_on().iter().all(|sink| sink == "speaker"), "{:?}", sound.streams_on());
    let told = scripted
        .hub_says("kiosk_devices with the loudspeaker", |m| match m {
            HubToAgent::KioskDevices { devices, .. } => devices.sound_output.filter(|o| *o == SoundOutput::Loudspeaker),
            _ => None,
        })
        .await;
    assert_eq!(told, SoundOutput::Loudspeaker);

    // Plugged in again mid-call: back to the handset, the room silent.
    let _again = sound.plug_sink("handset");
    eventually("the call back on the handset", || async move {
        let streams = s.streams_on();
        (s.muted("speaker") && !streams.is_empty() && streams.iter().all(|sink| sink == "handset")).then_some(())
    })
    .await;
    assert_eq!(sound.peak_on("speaker", LISTEN), 0, "the loudspeaker cut again");
    let pid = kiosk.child.id().expect("the kiosk runs");
    std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    let _ = kiosk.rest().await;
    world.hub.stop().await;
}
