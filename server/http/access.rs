//! Roles and the one permission table: every route Berth serves, with what it needs.
//!
//! The login guard ([`crate::auth::require_user`]) looks the matched route up here; a route that
//! is not in the table is refused to everyone (and logged), so a new route cannot skip the table.
//! `tests/it/authz.rs` walks [`ROUTES`] for anonymous, viewer, operator and admin.

use std::fmt;
use std::str::FromStr;

/// What a user may do. The words are stored in `users.role` (a CHECK constraint keeps them to
/// these three); any other word is refused at login, never read as power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role holds `perm`.
    pub fn allows(self, perm: Permission) -> bool {
        match perm {
            Permission::Public | Permission::Session | Permission::Read => true,
            Permission::Secrets | Permission::Operate => self != Role::Viewer,
            Permission::Admin => self == Role::Admin,
        }
    }

    /// `Ok` when this role holds `perm`, else the 403 sentence for it.
    pub fn require(self, perm: Permission) -> crate::error::Result<()> {
        if self.allows(perm) {
            Ok(())
        } else {
            Err(crate::error::Error::Forbidden(perm.refusal(self)))
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored role word that is not one of Berth's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role {:?} (Berth knows admin, operator and viewer)",
            self.0
        )
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// What a route needs, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No session needed: setup, login, health, static files.
    Public,
    /// Any logged-in user: log out, switch endpoint, their own account and API tokens.
    Session,
    /// Lists, details without secrets, logs, stats, layers, events.
    Read,
    /// Secrets: environment values, container and volume files, image export, raw inspect.
    Secrets,
    /// Container, image, network and volume actions; the console.
    Operate,
    /// Users, endpoints, settings, the audit log.
    Admin,
}

impl Permission {
    /// The sentence a refused user reads.
    pub fn refusal(self, role: Role) -> String {
        match self {
            Permission::Secrets => format!(
                "Your account ({role}) may not read secrets: environment values, container and \
                 volume files, image exports and raw inspect need the operator role."
            ),
            Permission::Operate => format!(
                "Your account ({role}) may look but not change anything: this needs the operator role."
            ),
            Permission::Admin => format!(
                "Your account ({role}) may not do this: users, endpoints, settings and the audit \
                 log are for administrators."
            ),
            Permission::Public | Permission::Session | Permission::Read => {
                "Log in first.".to_string()
            }
        }
    }
}

/// One route: its method, its path as the router declares it, and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub perm: Permission,
}

const fn r(method: &'static str, path: &'static str, perm: Permission) -> Route {
    Route { method, path, perm }
}

use Permission::{Admin, Operate, Public, Read, Secrets, Session};

/// Every route Berth serves. Paths are the unscoped ones (`/e/{id}/…` is moved out of the path
/// before routing). HEAD is looked up as GET.
pub const ROUTES: &[Route] = &[
    // ---- public
    r("GET", "/healthz", Public),
    r("GET", "/static/{*path}", Public),
    r("GET", "/setup", Public),
    r("POST", "/setup", Public),
    r("GET", "/login", Public),
    r("POST", "/login", Public),
    // A fresh Berth (no user yet, in the setup window) restores a backup instead of setup.
    r("POST", "/setup/restore", Public),
    r("POST", "/api/restore", Public),
    // ---- session
    r("POST", "/logout", Session),
    r("POST", "/endpoints/{id}/switch", Session),
    r("POST", "/api/endpoints/{id}/switch", Session),
    // ---- dashboard, live, metrics, events
    r("GET", "/", Read),
    r("GET", "/dashboard/disk", Read),
    r("GET", "/live", Read),
    r("GET", "/metrics", Read),
    r("GET", "/api/info", Read),
    r("GET", "/api/df", Read),
    r("GET", "/api/openapi.json", Read),
    // ---- containers
    r("GET", "/containers", Read),
    r("GET", "/containers/rows", Read),
    r("POST", "/containers/bulk", Operate),
    r("GET", "/containers/new", Operate),
    r("POST", "/containers/new", Operate),
    r("GET", "/containers/{id}", Read),
    r("POST", "/containers/{id}/{action}", Operate),
    r("GET", "/containers/{id}/edit", Operate),
    r("POST", "/containers/{id}/edit", Operate),
    r("POST", "/containers/{id}/rename", Operate),
    r("POST", "/containers/{id}/commit", Operate),
    r("GET", "/containers/{id}/processes", Read),
    r("GET", "/containers/{id}/changes", Read),
    r("GET", "/containers/{id}/logs", Read),
    r("GET", "/containers/{id}/logs/stream", Read),
    r("GET", "/containers/{id}/stats", Read),
    r("GET", "/containers/{id}/stats/stream", Read),
    r("GET", "/containers/{id}/stats/cell", Read),
    r("GET", "/containers/{id}/console", Operate),
    r("POST", "/containers/{id}/console/exec", Operate),
    r("POST", "/containers/{id}/console/resize", Operate),
    r("GET", "/containers/{id}/console/ws", Operate),
    r("GET", "/containers/{id}/files", Secrets),
    r("GET", "/containers/{id}/files/download", Secrets),
    r("POST", "/containers/{id}/files/upload", Operate),
    r("GET", "/logs", Read),
    r("GET", "/logs/stream", Read),
    r("GET", "/api/containers", Read),
    r("POST", "/api/containers", Operate),
    r("GET", "/api/containers/{id}", Secrets),
    r("GET", "/api/containers/{id}/spec", Secrets),
    r("POST", "/api/containers/{id}/recreate", Operate),
    r("POST", "/api/containers/{id}/rename", Operate),
    r("POST", "/api/containers/{id}/commit", Operate),
    r("GET", "/api/containers/{id}/top", Read),
    r("GET", "/api/containers/{id}/changes", Read),
    r("POST", "/api/containers/{id}/{action}", Operate),
    r("DELETE", "/api/containers/{id}", Operate),
    r("DELETE", "/api/containers/{id}/remove", Operate),
    r("GET", "/api/containers/{id}/logs", Read),
    r("GET", "/api/containers/{id}/stats", Read),
    r("GET", "/api/containers/{id}/files", Secrets),
    r("GET", "/api/containers/{id}/files/download", Secrets),
    r("POST", "/api/containers/{id}/files/upload", Operate),
    r("PUT", "/api/containers/{id}/files", Operate),
    // ---- images
    r("GET", "/images", Read),
    r("GET", "/images/export", Secrets),
    r("GET", "/images/prune", Operate),
    r("POST", "/images/prune", Operate),
    r("POST", "/images/pull", Operate),
    r("POST", "/images/build", Operate),
    r("POST", "/images/load", Operate),
    r("GET", "/images/{id}", Read),
    r("POST", "/images/{id}/tag", Operate),
    r("POST", "/images/{id}/remove", Operate),
    r("GET", "/jobs/{id}", Operate),
    r("GET", "/jobs/{id}/events", Operate),
    r("GET", "/layers", Read),
    r("GET", "/api/layers", Read),
    r("GET", "/api/images", Read),
    r("POST", "/api/images/pull", Operate),
    r("POST", "/api/images/build", Operate),
    r("POST", "/api/images/load", Operate),
    r("GET", "/api/images/export", Secrets),
    r("GET", "/api/images/prune", Operate),
    r("POST", "/api/images/prune", Operate),
    r("GET", "/api/images/{id}", Secrets),
    r("DELETE", "/api/images/{id}", Operate),
    r("GET", "/api/images/{id}/export", Secrets),
    r("POST", "/api/images/{id}/tag", Operate),
    r("GET", "/api/jobs/{id}", Operate),
    // ---- events
    r("GET", "/events", Read),
    r("GET", "/events/rows", Read),
    r("GET", "/containers/{id}/events", Read),
    r("GET", "/containers/{id}/actions", Read),
    r("GET", "/api/events", Read),
    r("GET", "/search", Read),
    // ---- swarm
    r("GET", "/swarm", Read),
    r("GET", "/swarm/services/{id}", Read),
    r("POST", "/swarm/services", Operate),
    r("POST", "/swarm/services/{id}/scale", Operate),
    r("POST", "/swarm/services/{id}/remove", Operate),
    r("POST", "/swarm/services/{id}/update", Operate),
    r("POST", "/swarm/services/{id}/rollback", Operate),
    r("POST", "/swarm/nodes/{id}/{action}", Admin),
    r("POST", "/swarm/secrets", Admin),
    r("POST", "/swarm/configs", Admin),
    r("POST", "/swarm/secrets/{id}/remove", Admin),
    r("POST", "/swarm/configs/{id}/remove", Admin),
    r("GET", "/api/swarm", Read),
    r("GET", "/api/swarm/nodes", Read),
    r("GET", "/api/swarm/nodes/{id}/tasks", Read),
    r("GET", "/api/swarm/services", Read),
    r("POST", "/api/swarm/services", Operate),
    r("GET", "/api/swarm/services/{id}", Read),
    r("DELETE", "/api/swarm/services/{id}", Operate),
    r("GET", "/api/swarm/services/{id}/tasks", Read),
    r("GET", "/api/swarm/services/{id}/logs", Read),
    r("POST", "/api/swarm/services/{id}/scale", Operate),
    r("POST", "/api/swarm/services/{id}/update", Operate),
    r("POST", "/api/swarm/services/{id}/rollback", Operate),
    r("POST", "/api/swarm/nodes/{id}/{action}", Admin),
    r("GET", "/api/swarm/secrets", Read),
    r("POST", "/api/swarm/secrets", Admin),
    r("DELETE", "/api/swarm/secrets/{id}", Admin),
    r("GET", "/api/swarm/configs", Read),
    r("POST", "/api/swarm/configs", Admin),
    r("DELETE", "/api/swarm/configs/{id}", Admin),
    // ---- networks
    r("GET", "/networks", Read),
    r("POST", "/networks", Operate),
    r("GET", "/networks/prune", Operate),
    r("POST", "/networks/prune", Operate),
    r("GET", "/networks/{id}", Read),
    r("POST", "/networks/{id}/remove", Operate),
    r("POST", "/networks/{id}/connect", Operate),
    r("POST", "/networks/{id}/disconnect", Operate),
    r("GET", "/api/networks", Read),
    r("POST", "/api/networks", Operate),
    r("GET", "/api/networks/drivers", Read),
    r("GET", "/api/networks/prune", Operate),
    r("POST", "/api/networks/prune", Operate),
    r("GET", "/api/networks/{id}", Read),
    r("DELETE", "/api/networks/{id}", Operate),
    r("POST", "/api/networks/{id}/connect", Operate),
    r("POST", "/api/networks/{id}/disconnect", Operate),
    // ---- volumes
    r("GET", "/volumes", Read),
    r("POST", "/volumes", Operate),
    r("GET", "/volumes/prune", Operate),
    r("POST", "/volumes/prune", Operate),
    r("GET", "/volumes/{name}", Read),
    r("POST", "/volumes/{name}/remove", Operate),
    r("GET", "/volumes/{name}/files", Secrets),
    r("GET", "/volumes/{name}/download", Secrets),
    r("POST", "/volumes/{name}/upload", Operate),
    r("GET", "/api/volumes", Read),
    r("POST", "/api/volumes", Operate),
    r("GET", "/api/volumes/prune", Operate),
    r("POST", "/api/volumes/prune", Operate),
    r("GET", "/api/volumes/{name}", Read),
    r("DELETE", "/api/volumes/{name}", Operate),
    r("GET", "/api/volumes/{name}/files", Secrets),
    r("PUT", "/api/volumes/{name}/files", Operate),
    r("POST", "/api/volumes/{name}/files", Operate),
    r("GET", "/api/volumes/{name}/download", Secrets),
    // ---- stacks (a compose file holds env values: viewers see the list and the services, not the file)
    r("GET", "/stacks", Read),
    r("POST", "/stacks", Operate),
    r("GET", "/stacks/{name}", Read),
    r("POST", "/stacks/{name}/deploy", Operate),
    r("POST", "/stacks/{name}/preview", Operate),
    r("POST", "/stacks/{name}/copy", Operate),
    r("GET", "/stacks/{name}/versions/{version}", Secrets),
    r("POST", "/stacks/{name}/{action}", Operate),
    r("GET", "/api/stacks", Read),
    r("POST", "/api/stacks", Operate),
    r("GET", "/api/stacks/{name}", Secrets),
    r("PUT", "/api/stacks/{name}", Operate),
    r("DELETE", "/api/stacks/{name}", Operate),
    r("GET", "/api/stacks/{name}/versions", Secrets),
    r("POST", "/api/stacks/{name}/preview", Operate),
    r("POST", "/api/stacks/{name}/copy", Operate),
    r("GET", "/api/stacks/{name}/stats", Read),
    r("POST", "/api/stacks/{name}/{action}", Operate),
    // ---- endpoints (the list is what the switch control shows; managing them is admin)
    r("GET", "/endpoints", Read),
    r("POST", "/endpoints", Admin),
    r("POST", "/endpoints/test", Admin),
    r("POST", "/endpoints/{id}", Admin),
    r("GET", "/endpoints/{id}/edit", Admin),
    r("POST", "/endpoints/{id}/test", Admin),
    r("POST", "/endpoints/{id}/delete", Admin),
    r("GET", "/api/endpoints", Read),
    r("POST", "/api/endpoints", Admin),
    r("POST", "/api/endpoints/test", Admin),
    r("GET", "/api/endpoints/{id}", Read),
    r("PUT", "/api/endpoints/{id}", Admin),
    r("DELETE", "/api/endpoints/{id}", Admin),
    r("POST", "/api/endpoints/{id}/test", Admin),
    // ---- settings, audit
    // ---- registries (credentials: admin); push, update checks and pull-and-recreate: operators
    r("GET", "/registries", Admin),
    r("POST", "/registries", Admin),
    r("GET", "/registries/{id}", Admin),
    r("POST", "/registries/{id}", Admin),
    r("POST", "/registries/{id}/remove", Admin),
    r("POST", "/registries/{id}/test", Admin),
    r("GET", "/registries/{id}/tags", Admin),
    r("GET", "/api/registries", Admin),
    r("POST", "/api/registries", Admin),
    r("GET", "/api/registries/{id}", Admin),
    r("PUT", "/api/registries/{id}", Admin),
    r("DELETE", "/api/registries/{id}", Admin),
    r("POST", "/api/registries/{id}/test", Admin),
    r("GET", "/api/registries/{id}/repositories", Operate),
    r("GET", "/api/registries/{id}/tags", Operate),
    r("POST", "/api/images/push", Operate),
    r("POST", "/images/{id}/push", Operate),
    r("GET", "/api/updates", Read),
    r("POST", "/api/updates/check", Operate),
    r("POST", "/updates/check", Operate),
    r("POST", "/api/containers/{id}/update", Operate),
    r("POST", "/containers/{id}/update", Operate),
    r("GET", "/settings", Admin),
    r("POST", "/settings", Admin),
    r("GET", "/api/settings", Admin),
    r("GET", "/api/settings/{key}", Admin),
    r("PUT", "/api/settings/{key}", Admin),
    r("GET", "/api/audit", Admin),
    // ---- users (admin), the user's own account and API tokens (any user: their own)
    r("GET", "/users", Admin),
    r("POST", "/users", Admin),
    r("POST", "/users/{id}", Admin),
    r("POST", "/users/{id}/password", Admin),
    r("POST", "/users/{id}/delete", Admin),
    r("GET", "/api/users", Admin),
    r("POST", "/api/users", Admin),
    r("PUT", "/api/users/{id}", Admin),
    r("DELETE", "/api/users/{id}", Admin),
    r("GET", "/account", Session),
    r("POST", "/account/password", Session),
    r("POST", "/account/sessions/{id}/revoke", Session),
    r("POST", "/account/tokens", Session),
    r("POST", "/account/tokens/{id}/revoke", Session),
    r("POST", "/api/account/password", Session),
    r("GET", "/api/account/sessions", Session),
    r("DELETE", "/api/account/sessions/{id}", Session),
    r("GET", "/api/tokens", Session),
    r("POST", "/api/tokens", Session),
    r("DELETE", "/api/tokens/{id}", Session),
    r("GET", "/audit", Admin),
    r("POST", "/settings/backup", Admin),
    r("POST", "/api/backup", Admin),
];

/// What `method` on the route declared as `path` needs; None when the table lacks it.
pub fn permission(method: &str, path: &str) -> Option<Permission> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map(|r| r.perm)
}

/// An environment list with the values hidden (`KEY=••••`), for those who may not read secrets.
pub fn mask_env(env: &mut [String]) {
    for e in env.iter_mut() {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        *e = format!("{key}=••••");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_an_allow_list() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for w in ["", "Admin", "root", "superuser", "admin "] {
            assert!(w.parse::<Role>().is_err(), "{w:?}");
        }
    }

    #[test]
    fn viewers_read_operators_act_admins_administer() {
        use Permission::*;
        let v = Role::Viewer;
        assert!(v.allows(Read) && v.allows(Session));
        assert!(!v.allows(Secrets) && !v.allows(Operate) && !v.allows(Admin));
        let o = Role::Operator;
        assert!(o.allows(Secrets) && o.allows(Operate) && !o.allows(Admin));
        assert!(Role::Admin.allows(Admin));
    }

    #[test]
    fn the_table_names_each_route_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "twice: {} {}",
                r.method,
                r.path
            );
            assert!(matches!(r.method, "GET" | "POST" | "PUT" | "DELETE"));
            // Nothing that changes state is open to a viewer, save the session's own controls.
            if r.method != "GET" {
                assert!(
                    r.perm != Permission::Read,
                    "{} {} changes state but is readable",
                    r.method,
                    r.path
                );
            }
        }
        assert_eq!(permission("HEAD", "/containers"), Some(Permission::Read));
        assert_eq!(permission("GET", "/nowhere"), None);
    }

    #[test]
    fn env_values_are_masked_names_kept() {
        let mut env = vec!["DB_PASSWORD=hunter2".to_string(), "FLAG".to_string()];
        mask_env(&mut env);
        assert_eq!(env, ["DB_PASSWORD=••••", "FLAG=••••"]);
    }
}
