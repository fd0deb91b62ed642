//! Who may see and do what in the admin console (`/admin/`). Each account
//! has one role; a role is a fixed set of permissions, checked by the hub on
//! every request (the page only hides what the role cannot use).
//! docs/decisions.md #289, "Admin console accounts and roles".

use serde::{Deserialize, Serialize};

/// A console account's role, from the most to the least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The region's IT team: everything, including publishing a
    /// configuration.
    Admin,
    /// Runs the network day to day: the fleet, each kiosk, the
    /// configuration in force, the usage figures and the live board of
    /// queues and agents; publishes nothing.
    Supervisor,
    /// A site's host (town hall, post office): the fleet and each kiosk's
    /// devices, to know when paper or a cable needs them.
    Host,
    /// A partner service's agent: the usage figures only.
    Agent,
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Fleet,
    Config,
    Publish,
    Usage,
    /// The supervisor's live board (`/supervision/`).
    Supervise,
}

impl Permission {
    pub const ALL: [Permission; 5] =
        [Permission::Fleet, Permission::Config, Permission::Publish, Permission::Usage, Permission::Supervise];
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Host, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Host => "host",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => matches!(permission, Fleet | Config | Usage | Supervise),
            Role::Host => matches!(permission, Fleet),
            Role::Agent => matches!(permission, Usage),
        }
    }

    /// Whether an account of this role may watch `sites` on the host page:
    /// a host's sites must be enrolled kiosks' (`enrolled`), so a typo is
    /// caught; other roles see every site and take none.
    pub fn check_sites<'a>(self, sites: &[String], enrolled: impl Iterator<Item = &'a str>) -> Result<(), String> {
        if self != Role::Host {
            return if sites.is_empty() { Ok(()) } else { Err(format!("--site is for host accounts; a {self} sees every site")) };
        }
        let mut known: Vec<&str> = enrolled.collect();
        known.sort_unstable();
        known.dedup();
        match sites.iter().find(|s| !known.contains(&s.as_str())) {
            Some(unknown) => Err(format!("no enrolled kiosk is at site {unknown:?}; the enrolled kiosks' sites are: {}", known.join(" ; "))),
            None => Ok(()),
        }
    }

    /// Everything this role may do, for the page to show what it can use.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.may(*p)).collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: expected admin, supervisor, host or agent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_publish_and_each_role_sees_its_pages() {
        let table: Vec<(Role, Vec<Permission>)> = Role::ALL.into_iter().map(|r| (r, r.permissions())).collect();
        use Permission::*;
        assert_eq!(table, [
            (Role::Admin, vec![Fleet, Config, Publish, Usage, Supervise]),
            (Role::Supervisor, vec![Fleet, Config, Usage, Supervise]),
            (Role::Host, vec![Fleet]),
            (Role::Agent, vec![Usage]),
        ]);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_hosts_sites_are_enrolled_kiosks_sites_and_other_roles_take_none() {
        let enrolled = ["Mairie d'Ardes", "Mairie de Besse", "Mairie d'Ardes"];
        let sites = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Role::Host.check_sites(&sites(&["Mairie d'Ardes"]), enrolled.into_iter()), Ok(()));
        assert_eq!(Role::Host.check_sites(&[], enrolled.into_iter()), Ok(()), "a host without a site uses /admin/ only");
        assert_eq!(
            Role::Host.check_sites(&sites(&["Mairie d'Arde"]), enrolled.into_iter()),
            Err("no enrolled kiosk is at site \"Mairie d'Arde\"; the enrolled kiosks' sites are: Mairie d'Ardes ; Mairie de Besse".into())
        );
        assert!(Role::Admin.check_sites(&sites(&["Mairie d'Ardes"]), enrolled.into_iter()).unwrap_err().contains("--site is for host accounts"));
    }
}
