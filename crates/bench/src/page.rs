//! A Chromium tab with the bench page, living in one side's namespace.

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use serde_json::Value;
use tokio::runtime::Handle;
use visio_bench::figures::{Frame, StatsSample};
use visio_testkit::browser::{Chromium, serve_page};

pub const HTML: &str = include_str!("page.html");

/// Chromium, its chromedriver and the page's server all run on `rt`, whose
/// threads are in the namespace: the browser's sockets are there, and so is
/// the loopback its driver listens on.
#[derive(Clone)]
pub struct Page {
    chromium: Arc<Chromium>,
    rt: Handle,
    url: String,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").field("url", &self.url).finish_non_exhaustive()
    }
}

/// What the page recorded since it was last asked.
#[derive(Debug, Default)]
pub struct Recorded {
    pub frames: Vec<Frame>,
    pub stats: Vec<StatsSample>,
}

impl Page {
    pub async fn launch(rt: Handle, extra_args: Vec<String>) -> Result<Page> {
        let (chromium, url) = rt
            .spawn(async move {
                let url = serve_page(HTML).await;
                (Chromium::launch_with(&extra_args).await, url)
            })
            .await
            .context("starting Chromium")?;
        Ok(Page { chromium: Arc::new(chromium), rt, url })
    }

    /// A fresh page: whatever the last one held is gone.
    pub async fn open(&self) -> Result<()> {
        self.open_with(Value::Null).await
    }

    /// A fresh page whose peer connection has this configuration
    /// (`{ iceServers: [...] }`; null: no ICE servers).
    pub async fn open_with(&self, config: Value) -> Result<()> {
        let (chromium, url) = (Arc::clone(&self.chromium), self.url.clone());
        self.rt.spawn(async move { chromium.client.goto(&url).await }).await?.context("loading the bench page")?;
        self.run("return await window.bench.start(arg);", config).await?;
        Ok(())
    }

    pub async fn blank(&self) {
        let chromium = Arc::clone(&self.chromium);
        let _ = self.rt.spawn(async move { chromium.client.goto("about:blank").await }).await;
    }

    /// Runs an async script body (`arg` is its argument).
    pub async fn run(&self, script: &str, arg: Value) -> Result<Value> {
        let (chromium, script) = (Arc::clone(&self.chromium), script.to_string());
        self.rt.spawn(async move { chromium.run(&script, arg).await }).await.map_err(|e| anyhow!("in Chromium: {e}"))
    }

    pub async fn take(&self) -> Result<Recorded> {
        let v = self.run("return window.bench.take();", Value::Null).await?;
        let frames = v["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some(Frame { t: f[0].as_f64()?, w: f[1].as_u64()? as u32, h: f[2].as_u64()? as u32 }))
            .collect();
        let stats = serde_json::from_value(v["stats"].clone()).context("stats shape")?;
        Ok(Recorded { frames, stats })
    }

    /// The browser's setup events since last asked (ICE and connection
    /// states, DTLS state, candidates gathered): (ms since the epoch, what).
    pub async fn take_timeline(&self) -> Result<Vec<(f64, String)>> {
        let v = self.run("return window.bench.takeTimeline();", Value::Null).await?;
        Ok(v.as_array().into_iter().flatten().filter_map(|e| Some((e[0].as_f64()?, e[1].as_str()?.to_string()))).collect())
    }

    pub async fn take_candidates(&self) -> Result<Vec<Value>> {
        Ok(self.run("return window.bench.takeCandidates();", Value::Null).await?.as_array().cloned().unwrap_or_default())
    }

    pub async fn add_candidate(&self, candidate: Value) -> Result<()> {
        self.run("await window.bench.addCandidate(arg); return true;", candidate).await.map(drop)
    }
}
