//! The simulated kiosks' and agents' accounts: enrolled through the hub's
//! own store library (the code `visio-hub kiosk enroll` and `agent add`
//! run), so a load run authenticates exactly as the fleet does; kept in a
//! JSON file the run reads.

use futures_util::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use visio_hub::store::Backend;
use visio_protocol::{AgentLogin, KioskId, Secret, ServiceId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accounts {
    /// The service simulated residents ask for and agents serve.
    pub service: String,
    pub kiosks: Vec<KioskAccount>,
    pub agents: Vec<AgentAccount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskAccount {
    pub id: String,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAccount {
    pub login: String,
    pub password: String,
}

/// `load-k00042`: sorted as numbered, and never a real kiosk's id.
pub fn kiosk_id(prefix: &str, n: usize) -> String {
    format!("{prefix}k{n:05}")
}

pub fn agent_login(prefix: &str, n: usize) -> String {
    format!("{prefix}a{n:03}")
}

/// Enrols `kiosks` kiosks (re-enrolling, with a new secret, any that
/// exist) and creates `agents` agents serving `service`, all with one
/// fresh password. `parallel` calls at once: PostgreSQL takes them on
/// several connections; SQLite serialises them anyway.
pub async fn enrol(
    store: &Backend,
    prefix: &str,
    kiosks: usize,
    agents: usize,
    service: &str,
    parallel: usize,
) -> anyhow::Result<Accounts> {
    let now = Timestamp::now();
    let kiosk_accounts: Vec<KioskAccount> = futures_util::stream::iter(0..kiosks)
        .map(|n| async move {
            let id = kiosk_id(prefix, n);
            let secret = store.enroll_kiosk(&KioskId(id.clone()), &format!("Load site {n}"), now).await?;
            anyhow::Ok(KioskAccount { id, secret: secret.expose().to_owned() })
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    let password = Secret(format!("load-{:016x}", rand::random::<u64>()));
    let services = [ServiceId(service.to_owned())];
    let agent_accounts: Vec<AgentAccount> = futures_util::stream::iter(0..agents)
        .map(|n| {
            let (password, services) = (&password, &services);
            async move {
                let login = agent_login(prefix, n);
                store
                    .add_agent(&AgentLogin(login.clone()), &format!("Agent {n} (load)"), password, services, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot create agent {login:?} (use a fresh database): {e}"))?;
                anyhow::Ok(AgentAccount { login, password: password.expose().to_owned() })
            }
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    Ok(Accounts { service: service.to_owned(), kiosks: kiosk_accounts, agents: agent_accounts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_numbered_and_are_valid_hub_ids() {
        let ids: Vec<String> = [2, 10, 9999].iter().map(|&n| kiosk_id("load-", n)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(kiosk_id("load-", 42), "load-k00042");
        assert_eq!(agent_login("", 7), "a007");
        assert!(ids.iter().all(|id| id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
    }

    #[tokio::test]
    async fn enrolled_kiosks_and_agents_are_recognised_by_the_store() {
        let store: Backend = visio_hub::store::Store::open_in_memory().unwrap().into();
        let accounts = enrol(&store, "t-", 20, 2, "demo", 4).await.unwrap();
        assert_eq!((accounts.kiosks.len(), accounts.agents.len()), (20, 2));
        for k in &accounts.kiosks {
            let found = store.verify_kiosk(&KioskId(k.id.clone()), &Secret(k.secret.clone())).await.unwrap();
            assert!(found.is_some(), "{}", k.id);
        }
        let a = &accounts.agents[1];
        let agent = store.verify_agent(&AgentLogin(a.login.clone()), &Secret(a.password.clone())).await.unwrap().unwrap();
        assert_eq!(agent.services, [ServiceId::from("demo")]);
        let text = serde_json::to_string(&accounts).unwrap();
        assert_eq!(serde_json::from_str::<Accounts>(&text).unwrap(), accounts);
    }
}
