//! The instructions that change only the image config: ENV, WORKDIR, USER, CMD,
//! ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK, MAINTAINER (the
//! config fields of image-spec `config.md` and Docker's `Healthcheck`/`Shell` extensions).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::BuildError;
use super::parse::{self, Args, Instruction};
use super::stage::Current;

/// ENV, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL, STOPSIGNAL,
/// HEALTHCHECK, MAINTAINER: the image config after them.
pub(crate) fn apply(
    ins: &Instruction,
    expanded: &str,
    cur: &mut Current,
) -> Result<(), BuildError> {
    let line = ins.line;
    let kw = ins.keyword.as_str();
    let shell = cur.state.shell();
    let command = |args: &Args| -> Vec<String> {
        match args {
            Args::Exec(v) => v.clone(),
            Args::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    };
    match kw {
        "ENV" => {
            let mut env = cur.state.env();
            for (k, v) in parse::pairs(expanded, line, kw)? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
            cur.state.runtime().insert("Env".into(), json!(env));
        }
        "WORKDIR" => {
            let dir = if expanded.starts_with('/') {
                PathBuf::from(expanded)
            } else {
                PathBuf::from(cur.state.workdir()).join(expanded)
            };
            cur.state
                .runtime()
                .insert("WorkingDir".into(), json!(dir.to_string_lossy()));
        }
        "USER" => {
            cur.state
                .runtime()
                .insert("User".into(), json!(expanded.trim()));
        }
        "STOPSIGNAL" => {
            cur.state
                .runtime()
                .insert("StopSignal".into(), json!(expanded.trim()));
        }
        "CMD" => {
            let c = command(&ins.args);
            cur.state.runtime().insert("Cmd".into(), json!(c));
            cur.cmd_set = true;
        }
        "ENTRYPOINT" => {
            let e = command(&ins.args);
            cur.state.runtime().insert("Entrypoint".into(), json!(e));
            if !cur.cmd_set {
                cur.state.runtime().insert("Cmd".into(), Value::Null);
            }
        }
        "SHELL" => match &ins.args {
            Args::Exec(v) if !v.is_empty() => {
                cur.state.runtime().insert("Shell".into(), json!(v));
            }
            _ => {
                return Err(BuildError::at(
                    line,
                    kw,
                    "SHELL takes a JSON array: SHELL [\"/bin/bash\", \"-c\"]",
                ));
            }
        },
        "EXPOSE" | "VOLUME" | "LABEL" => {
            let (field, entries): (&str, BTreeMap<String, Value>) = match kw {
                "EXPOSE" => (
                    "ExposedPorts",
                    expanded
                        .split_whitespace()
                        .map(|p| {
                            let p = if p.contains('/') {
                                p.to_owned()
                            } else {
                                format!("{p}/tcp")
                            };
                            (p, json!({}))
                        })
                        .collect(),
                ),
                "VOLUME" => (
                    "Volumes",
                    match &ins.args {
                        Args::Exec(v) => v
                            .iter()
                            .map(|p| (cur.expand(p, line), json!({})))
                            .map(|(p, v)| p.map(|p| (p, v)))
                            .collect::<Result<_, _>>()?,
                        Args::Shell(_) => expanded
                            .split_whitespace()
                            .map(|p| (p.to_owned(), json!({})))
                            .collect(),
                    },
                ),
                _ => (
                    "Labels",
                    parse::pairs(expanded, line, kw)?
                        .into_iter()
                        .map(|(k, v)| (k, json!(v)))
                        .collect(),
                ),
            };
            let rt = cur.state.runtime();
            if !rt.get(field).is_some_and(Value::is_object) {
                rt.insert(field.into(), json!({}));
            }
            if let Some(map) = rt.get_mut(field).and_then(Value::as_object_mut) {
                map.extend(entries);
            }
        }
        "HEALTHCHECK" => {
            let test = match &ins.args {
                Args::Shell(s) if s.trim().eq_ignore_ascii_case("NONE") => json!(["NONE"]),
                args => {
                    let rest = match args {
                        Args::Shell(s) => s
                            .trim()
                            .strip_prefix("CMD")
                            .or_else(|| s.trim().strip_prefix("cmd"))
                            .map(str::trim),
                        Args::Exec(_) => None,
                    };
                    match rest {
                        Some(r) if r.starts_with('[') => {
                            match serde_json::from_str::<Vec<String>>(r) {
                                Ok(v) => json!(
                                    ["CMD"]
                                        .into_iter()
                                        .map(String::from)
                                        .chain(v)
                                        .collect::<Vec<_>>()
                                ),
                                Err(_) => json!(["CMD-SHELL", r]),
                            }
                        }
                        Some(r) if !r.is_empty() => json!(["CMD-SHELL", r]),
                        _ => {
                            return Err(BuildError::at(
                                line,
                                kw,
                                "expected HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE",
                            ));
                        }
                    }
                }
            };
            let mut hc = json!({"Test": test});
            for (flag, field) in [
                ("interval", "Interval"),
                ("timeout", "Timeout"),
                ("start-period", "StartPeriod"),
                ("start-interval", "StartInterval"),
            ] {
                if let Some(v) = ins.flag(flag) {
                    let d = humantime::parse_duration(v)
                        .map_err(|e| BuildError::at(line, kw, format!("--{flag}={v}: {e}")))?;
                    hc[field] = json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                }
            }
            if let Some(v) = ins.flag("retries") {
                let n: u64 = v.parse().map_err(|_| {
                    BuildError::at(line, kw, format!("--retries={v}: not a number"))
                })?;
                hc["Retries"] = json!(n);
            }
            cur.state.runtime().insert("Healthcheck".into(), hc);
        }
        "MAINTAINER" => {
            cur.state.config["author"] = json!(expanded.trim());
        }
        other => return Err(BuildError::at(line, other, "not supported")),
    }
    Ok(())
}
