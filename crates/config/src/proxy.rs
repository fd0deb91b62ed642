//! The site's HTTP proxy in a kiosk's configuration (`hub.proxy`): where a
//! town hall lets nothing out but its proxy, the kiosk reaches its hub and
//! its TURN server through it with `CONNECT`, as browsers do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The proxy as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    /// `http://proxy.mairie.example.fr:3128` (host and port only).
    pub url: String,
    /// User name, when the proxy asks for one (Basic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password that goes with `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A checked proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// User name and password, both or neither.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.credentials.as_ref().map(|(u, _)| u.as_str());
        f.debug_struct("Proxy").field("host", &self.host).field("port", &self.port).field("username", &user).finish()
    }
}

impl Proxy {
    /// As it is written in a configuration.
    pub fn to_raw(&self) -> RawProxy {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        RawProxy {
            url: format!("http://{host}:{}", self.port),
            username: self.credentials.as_ref().map(|(u, _)| u.clone()),
            password: self.credentials.as_ref().map(|(_, p)| p.clone()),
        }
    }
}

impl RawProxy {
    /// The proxy, or what is wrong with it (the message for `hub.proxy.url`
    /// or `hub.proxy.password`, with that path).
    pub fn validate(&self) -> Result<Proxy, (&'static str, String)> {
        let bad = || ("hub.proxy.url", format!("{:?} is not an HTTP proxy address such as \"http://proxy.example.fr:3128\"", self.url));
        let rest = self.url.strip_prefix("http://").ok_or_else(bad)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '@', '?', '#']) {
            return Err(bad());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, port) = v6.split_once("]:").ok_or_else(bad)?;
                (host, port)
            }
            None => authority.rsplit_once(':').ok_or_else(bad)?,
        };
        let port: u16 = port.parse().ok().filter(|&p| p != 0).ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        let credentials = match (&self.username, &self.password) {
            (Some(user), Some(password)) if !user.is_empty() && !user.contains(':') => Some((user.clone(), password.clone())),
            (None, None) => None,
            _ => return Err(("hub.proxy.password", "give both username (without ':') and password, or neither".into())),
        };
        Ok(Proxy { host: host.to_owned(), port, credentials })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str, username: Option<&str>, password: Option<&str>) -> RawProxy {
        RawProxy { url: url.into(), username: username.map(Into::into), password: password.map(Into::into) }
    }

    #[test]
    fn a_proxy_is_a_host_and_port_with_optional_credentials() {
        let p = raw("http://proxy.mairie.fr:3128", None, None).validate().unwrap();
        assert_eq!((p.host.as_str(), p.port, p.credentials), ("proxy.mairie.fr", 3128, None));
        let p = raw("http://[2001:db8::3]:8080/", Some("accueil"), Some("pw")).validate().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("2001:db8::3", 8080));
        assert_eq!(p.credentials, Some(("accueil".into(), "pw".into())));
        assert!(!format!("{p:?}").contains("pw\""), "no password in logs: {p:?}");
        assert_eq!(p.to_raw().validate().unwrap(), p, "written back as it was read");
    }

    #[test]
    fn what_is_not_a_proxy_address_is_refused_with_the_field_to_fix() {
        for url in ["proxy:3128", "https://proxy:3128", "http://proxy", "http://proxy:0", "http://:3128", "http://u:p@proxy:3128", "http://proxy:3128/path"] {
            let (path, message) = raw(url, None, None).validate().unwrap_err();
            assert_eq!(path, "hub.proxy.url");
            assert!(message.contains("http://proxy.example.fr:3128"), "{message}");
        }
        for (user, password) in [(Some("a"), None), (None, Some("b")), (Some("a:b"), Some("c")), (Some(""), Some("c"))] {
            assert_eq!(raw("http://p:1", user, password).validate().unwrap_err().0, "hub.proxy.password");
        }
    }
}
