//! Container ids (64 random hex digits) and names (docker's rules; generated names in
//! docker's `adjective_name` shape, from word lists of our own).

use crate::error::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "daring", "eager",
    "fancy", "fond", "gentle", "happy", "hardy", "jolly", "keen", "kind", "lively", "lucid",
    "merry", "mellow", "nimble", "noble", "plucky", "proud", "quick", "quiet", "rapid", "sharp",
    "shiny", "snug", "spry", "steady", "stoic", "sunny", "swift", "tender", "tidy", "vivid",
    "warm", "wise", "witty", "zesty",
];

/// Gardeners, botanists and geneticists of the pea (and a few of the whale).
const NAMES: &[&str] = &[
    "mendel",
    "knight",
    "bateson",
    "punnett",
    "correns",
    "tschermak",
    "devries",
    "mcclintock",
    "darwin",
    "linnaeus",
    "hooker",
    "gray",
    "sachs",
    "strasburger",
    "vavilov",
    "burbank",
    "carver",
    "morgan",
    "sturtevant",
    "bridges",
    "muller",
    "beadle",
    "tatum",
    "lederberg",
    "franklin",
    "watson",
    "crick",
    "sanger",
    "payne",
    "cousteau",
    "ray",
    "goodall",
    "carson",
    "humboldt",
    "bonpland",
    "banks",
    "merian",
    "anning",
    "agassiz",
    "wallace",
    "bates",
    "hutton",
];

fn random_u64() -> Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::Sys {
        what: "read random bytes".into(),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// A new container id: 32 random bytes as 64 hex digits (never all digits, so that a short
/// id is never read as a number, as docker ensures).
pub(crate) fn new_id() -> Result<String> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::Sys {
            what: "read random bytes".into(),
            source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

/// A generated name: `adjective_name`, with a number after it on the (rare) retries.
pub(crate) fn generate(attempt: u32) -> Result<String> {
    let r = random_u64()?;
    let adjective = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let name = NAMES[((r >> 32) % NAMES.len() as u64) as usize];
    Ok(if attempt == 0 {
        format!("{adjective}_{name}")
    } else {
        format!("{adjective}_{name}{}", r % 10)
    })
}

/// Checks a name against docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/`, as
/// docker's API writes names, is dropped).
///
/// # Errors
/// [`Error::InvalidName`].
pub fn validate(name: &str) -> Result<&str> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() > 1
        && name.len() <= 253
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_ids() {
        for good in ["web", "web-1", "a.b_c", "/web"] {
            assert!(super::validate(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a", "we b", "a/b", "ü"] {
            assert!(super::validate(bad).is_err(), "{bad}");
        }
        let id = super::new_id().unwrap_or_default();
        assert_eq!(id.len(), 64);
        assert!(super::generate(0).is_ok_and(|n| super::validate(&n).is_ok()));
    }
}
