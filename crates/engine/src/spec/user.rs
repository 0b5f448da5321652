//! `--user` (and the image's `User`) resolved against the container's `/etc/passwd` and
//! `/etc/group`, as docker does: `name`, `uid`, `name:group`, `uid:gid`, `uid:group`…; a
//! numeric uid need not exist (gid 0 then); a name must.

/// The ids a container's process runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Supplementary groups: those of the user's name in `/etc/group`.
    pub additional_gids: Vec<u32>,
    /// The home directory from `/etc/passwd` (`/` when unknown), for `HOME`.
    pub home: String,
}

/// A `--user` that cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A name not in `/etc/passwd`.
    #[error("unable to find user {0}: no matching entries in the container's /etc/passwd")]
    NoUser(String),
    /// A group name not in `/etc/group`.
    #[error("unable to find group {0}: no matching entries in the container's /etc/group")]
    NoGroup(String),
    /// Empty parts, or ids out of range.
    #[error("invalid user {0:?}: expected name|uid[:group|gid]")]
    Invalid(String),
}

struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = Passwd<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some(Passwd {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

/// `(name, gid, members)` of each `/etc/group` line.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolves `spec` (empty = root) with the container's `passwd` and `group` files (empty
/// text when the image has none).
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser, UserError> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if grp == Some("") || (user.is_empty() && grp.is_some()) {
        return Err(UserError::Invalid(spec.to_owned()));
    }
    let user = if user.is_empty() { "0" } else { user };
    let found = match user.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|p| p.uid == uid),
        Err(_) if user.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(UserError::Invalid(spec.to_owned()));
        }
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|p| p.name == user)
                .ok_or_else(|| UserError::NoUser(user.to_owned()))?,
        ),
    };
    let uid = match (&found, user.parse::<u32>()) {
        (Some(p), _) => p.uid,
        (None, Ok(uid)) => uid,
        (None, Err(_)) => return Err(UserError::NoUser(user.to_owned())),
    };
    let gid = match grp {
        None => found.as_ref().map_or(0, |p| p.gid),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group_entries(group)
                .find(|(name, _, _)| *name == g)
                .map(|(_, gid, _)| gid)
                .ok_or_else(|| UserError::NoGroup(g.to_owned()))?,
        },
    };
    let mut additional_gids: Vec<u32> = match &found {
        Some(p) if grp.is_none() => group_entries(group)
            .filter(|(_, gid, members)| members.contains(&p.name) && *gid != gid_of(p))
            .map(|(_, gid, _)| gid)
            .collect(),
        _ => Vec::new(),
    };
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: found
            .as_ref()
            .map_or_else(|| "/".to_owned(), |p| p.home.to_owned()),
    })
}

fn gid_of(p: &Passwd<'_>) -> u32 {
    p.gid
}
