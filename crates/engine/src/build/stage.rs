//! The build driver: stages in order (only those the target needs), each instruction a step
//! with a cache key, the image state after each step, and the final image committed.

use std::path::PathBuf;

use peapod_image::Digest;
use peapod_image::store::ImageLayer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::parse::{self, Instruction};
use super::{BuildError, BuildOptions, BuildProgress, BuildReport, Containerfile, PullPolicy};
use crate::Engine;

/// One layer of an image being built, as the cache keeps it (an [`ImageLayer`] in text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerRef {
    blob_digest: String,
    media_type: String,
    blob_size: u64,
    diff_id: String,
    chain_id: String,
    size: u64,
}

impl From<&ImageLayer> for LayerRef {
    fn from(l: &ImageLayer) -> Self {
        Self {
            blob_digest: l.blob_digest.to_string(),
            media_type: l.media_type.clone(),
            blob_size: l.blob_size,
            diff_id: l.diff_id.to_string(),
            chain_id: l.chain_id.to_string(),
            size: l.size,
        }
    }
}

impl LayerRef {
    pub(crate) fn layer(&self) -> Option<ImageLayer> {
        Some(ImageLayer {
            blob_digest: self.blob_digest.parse().ok()?,
            media_type: self.media_type.clone(),
            blob_size: self.blob_size,
            diff_id: self.diff_id.parse().ok()?,
            chain_id: self.chain_id.parse().ok()?,
            size: self.size,
        })
    }
}

/// An image as a build holds it between steps: its layers and its whole config document
/// (image-spec `config.md`: `config`, `rootfs`, `history`, `created`…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageState {
    pub(crate) layers: Vec<LayerRef>,
    pub(crate) config: Value,
}

impl ImageState {
    fn scratch() -> Self {
        let p = peapod_image::manifest::Platform::host();
        let mut config = json!({
            "architecture": p.architecture,
            "os": p.os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [],
        });
        if let Some(v) = p.variant {
            config["variant"] = json!(v);
        }
        Self {
            layers: Vec::new(),
            config,
        }
    }

    pub(crate) fn image_layers(&self) -> Vec<ImageLayer> {
        self.layers.iter().filter_map(LayerRef::layer).collect()
    }

    /// The runtime part (`config` object).
    pub(crate) fn runtime(&mut self) -> &mut serde_json::Map<String, Value> {
        if !self.config["config"].is_object() {
            self.config["config"] = json!({});
        }
        match self.config["config"].as_object_mut() {
            Some(m) => m,
            None => unreachable!("set to an object above"),
        }
    }

    pub(crate) fn get(&self, key: &str) -> &Value {
        &self.config["config"][key]
    }

    pub(crate) fn env(&self) -> Vec<String> {
        string_list(self.get("Env"))
    }

    pub(crate) fn workdir(&self) -> String {
        self.get("WorkingDir")
            .as_str()
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_owned()
    }

    pub(crate) fn shell(&self) -> Vec<String> {
        let s = string_list(self.get("Shell"));
        if s.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            s
        }
    }

    /// Adds a history entry (and a layer, if any) made at `created`.
    pub(crate) fn record(&mut self, created: &str, created_by: String, layer: Option<&ImageLayer>) {
        let mut entry = json!({"created": created, "created_by": created_by});
        match layer {
            Some(l) => {
                self.layers.push(l.into());
                if let Some(ids) = self.config["rootfs"]["diff_ids"].as_array_mut() {
                    ids.push(json!(l.diff_id.to_string()));
                }
            }
            None => entry["empty_layer"] = json!(true),
        }
        if !self.config["history"].is_array() {
            self.config["history"] = json!([]);
        }
        if let Some(h) = self.config["history"].as_array_mut() {
            h.push(entry);
        }
        self.config["created"] = json!(created);
    }
}

pub(crate) fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(ToOwned::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A stage: its FROM and its instructions.
struct StageDef {
    name: Option<String>,
    from: Instruction,
    body: Vec<Instruction>,
}

/// A stage's state while it is built.
pub(crate) struct Current {
    pub(crate) state: ImageState,
    pub(crate) key: Digest,
    /// The ARGs declared in this stage, with their values.
    pub(crate) args: Vec<(String, String)>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub(crate) cmd_set: bool,
}

impl Current {
    /// What `$NAME` expands to: ENV over ARG (as docker resolves them).
    pub(crate) fn lookup(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.state
            .env()
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(&prefix).map(ToOwned::to_owned))
            .or_else(|| {
                self.args
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
    }

    pub(crate) fn expand(&self, text: &str, line: usize) -> Result<String, BuildError> {
        parse::expand(text, line, &|n| self.lookup(n))
    }
}

/// One build in progress.
pub(crate) struct Builder<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) opts: &'a BuildOptions,
    progress: &'a dyn BuildProgress,
    global_args: Vec<(String, String)>,
    stages: Vec<StageDef>,
    built: Vec<Option<(ImageState, Digest)>>,
    step: usize,
    total: usize,
    pub(crate) report: BuildReport,
    pub(crate) context: Option<PathBuf>,
    /// ARG names declared so far (before FROM, and in the stages built).
    declared: std::collections::BTreeSet<String>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        engine: &'a Engine,
        opts: &'a BuildOptions,
        progress: &'a dyn BuildProgress,
    ) -> Result<Self, BuildError> {
        let context = match &opts.context {
            Some(c) => Some(
                std::fs::canonicalize(c).map_err(BuildError::io("open the build context", c))?,
            ),
            None => None,
        };
        let text = match (&opts.containerfile, &context) {
            (Containerfile::Text(t), _) => t.clone(),
            (Containerfile::Path(p), _) => {
                std::fs::read_to_string(p).map_err(BuildError::io("read", p))?
            }
            (Containerfile::Default, Some(dir)) => {
                let found = ["Containerfile", "Dockerfile"]
                    .iter()
                    .map(|n| dir.join(n))
                    .find(|p| p.is_file())
                    .ok_or_else(|| BuildError::NoContainerfile(dir.clone()))?;
                std::fs::read_to_string(&found).map_err(BuildError::io("read", &found))?
            }
            (Containerfile::Default, None) => {
                return Err(BuildError::NoContainerfile(PathBuf::from("-")));
            }
        };
        let instructions = parse::parse(&text)?;
        let mut global_args = Vec::new();
        let mut stages: Vec<StageDef> = Vec::new();
        for ins in instructions {
            match ins.keyword.as_str() {
                "FROM" => {
                    let words = ins.args.words();
                    let name = match words.as_slice() {
                        [_] => None,
                        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
                            Some(name.to_ascii_lowercase())
                        }
                        _ => {
                            return Err(BuildError::at(
                                ins.line,
                                "FROM",
                                "expected FROM IMAGE [AS NAME]",
                            ));
                        }
                    };
                    stages.push(StageDef {
                        name,
                        from: ins,
                        body: Vec::new(),
                    });
                }
                "ARG" if stages.is_empty() => {
                    for w in parse::words(&ins.text, ins.line)? {
                        let (k, default) = w.split_once('=').unwrap_or((w.as_str(), ""));
                        let value = build_arg(opts, k).unwrap_or_else(|| default.to_owned());
                        global_args.push((k.to_owned(), value));
                    }
                }
                _ => match stages.last_mut() {
                    Some(s) => s.body.push(ins),
                    None => {
                        return Err(BuildError::at(
                            ins.line,
                            &ins.keyword,
                            "only ARG may come before the first FROM",
                        ));
                    }
                },
            }
        }
        if stages.is_empty() {
            return Err(BuildError::Syntax {
                line: 1,
                message: "no FROM instruction".into(),
            });
        }
        let built = stages.iter().map(|_| None).collect();
        Ok(Self {
            engine,
            opts,
            progress,
            stages,
            built,
            step: 0,
            total: 0,
            report: BuildReport {
                id: Digest::of(b""),
                names: Vec::new(),
                steps: 0,
                cached: 0,
                runs: 0,
                unused_build_args: Vec::new(),
            },
            declared: global_args.iter().map(|(k, _)| k.clone()).collect(),
            global_args,
            context,
        })
    }

    /// The index of stage `name` (a name given with AS, or a number), if any.
    pub(crate) fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
    }

    /// Stages `index` needs (FROM another stage, COPY --from), itself last.
    fn needed(&self, index: usize, out: &mut Vec<usize>) {
        if out.contains(&index) {
            return;
        }
        let def = &self.stages[index];
        let mut deps = Vec::new();
        if let Some(base) = def.from.args.words().first() {
            deps.extend(self.stage_index(base, index));
        }
        for ins in &def.body {
            if let Some(from) = ins.flag("from") {
                deps.extend(self.stage_index(from, index));
            }
        }
        for d in deps {
            self.needed(d, out);
        }
        out.push(index);
    }

    pub(crate) fn run(mut self) -> Result<BuildReport, BuildError> {
        let target = match &self.opts.target {
            Some(t) => {
                self.stage_index(t, self.stages.len())
                    .ok_or_else(|| BuildError::Syntax {
                        line: 1,
                        message: format!("--target {t}: no stage of that name"),
                    })?
            }
            None => self.stages.len() - 1,
        };
        let mut order = Vec::new();
        self.needed(target, &mut order);
        self.total = order.iter().map(|i| 1 + self.stages[*i].body.len()).sum();
        let _lease = self
            .engine
            .images
            .store()
            .lease()
            .map_err(peapod_image::Error::from)?;
        for i in order {
            let built = self.build_stage(i)?;
            self.built[i] = Some(built);
        }
        let Some((mut state, _)) = self.built[target].take() else {
            unreachable!("the target was built last");
        };
        for (k, v) in &self.opts.labels {
            let rt = state.runtime();
            if !rt.get("Labels").is_some_and(Value::is_object) {
                rt.insert("Labels".into(), json!({}));
            }
            if let Some(labels) = rt.get_mut("Labels").and_then(Value::as_object_mut) {
                labels.insert(k.clone(), json!(v));
            }
        }
        self.commit(&state)
    }

    fn build_stage(&mut self, index: usize) -> Result<(ImageState, Digest), BuildError> {
        let from = self.stages[index].from.clone();
        self.begin(&from)?;
        let global = self.global_args.clone();
        let lookup = |n: &str| {
            global
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let words = from.args.words();
        let base = parse::expand(words.first().map_or("", String::as_str), from.line, &lookup)?;
        if let Some(platform) = from.flag("platform") {
            let platform = parse::expand(platform, from.line, &lookup)?;
            let host = peapod_image::manifest::Platform::host().to_string();
            if platform != host && !host.starts_with(&format!("{platform}/")) {
                return Err(BuildError::at(
                    from.line,
                    "FROM",
                    format!(
                        "--platform={platform}: only this machine's platform ({host}) can be built"
                    ),
                ));
            }
        }
        let (state, key) = if base.eq_ignore_ascii_case("scratch") {
            (ImageState::scratch(), Digest::of(b"scratch"))
        } else if let Some(j) = self.stage_index(&base, index) {
            match &self.built[j] {
                Some((s, k)) => (s.clone(), k.clone()),
                None => unreachable!("stages a stage needs are built before it"),
            }
        } else {
            self.base_image(&base, from.line, "FROM")?
        };
        self.progress.done(key.hex());
        let mut current = Current {
            state,
            key,
            args: Vec::new(),
            cmd_set: false,
        };
        let body = self.stages[index].body.clone();
        for ins in &body {
            self.begin(ins)?;
            self.instruction(ins, &mut current, index)?;
            self.progress.done(current.key.hex());
        }
        Ok((current.state, current.key))
    }

    fn begin(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        super::interrupt::check()?;
        self.step += 1;
        self.report.steps += 1;
        self.progress.step(
            self.step,
            self.total,
            &format!("{} {}", ins.keyword, ins.text),
        );
        Ok(())
    }

    /// An image of the store as a base (FROM, COPY --from), pulled as `--pull` says.
    pub(crate) fn base_image(
        &self,
        name: &str,
        line: usize,
        keyword: &str,
    ) -> Result<(ImageState, Digest), BuildError> {
        let images = &self.engine.images;
        let from_err =
            |e: &dyn std::fmt::Display| BuildError::at(line, keyword, format!("{name}: {e}"));
        let record = match (self.opts.pull, images.resolve(name)) {
            (PullPolicy::Always, _) | (PullPolicy::Missing, Err(_)) => {
                let pulled = images
                    .pull(name, &self.opts.pull_options, &peapod_image::pull::Quiet)
                    .map_err(|e| from_err(&e))?;
                images
                    .resolve(&pulled.id.to_string())
                    .map_err(|e| from_err(&e))?
            }
            (_, Ok(r)) => r,
            (PullPolicy::Never, Err(e)) => return Err(from_err(&e)),
        };
        let mut config = images.config(&record).map_err(|e| from_err(&e))?;
        if !config["history"].is_array() {
            config["history"] = json!([]);
        }
        let layers = record.layers.iter().map(LayerRef::from).collect();
        Ok((ImageState { layers, config }, record.id))
    }

    /// Now, or the epoch, as RFC 3339.
    pub(crate) fn created(&self) -> String {
        let t = match self.opts.source_date_epoch {
            Some(s) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
            None => std::time::SystemTime::now(),
        };
        humantime::format_rfc3339_seconds(t).to_string()
    }

    /// Runs one instruction (or takes it from the cache) and moves `current` on.
    fn instruction(
        &mut self,
        ins: &Instruction,
        current: &mut Current,
        stage: usize,
    ) -> Result<(), BuildError> {
        if ins.keyword == "ARG" {
            for w in parse::words(&ins.text, ins.line)? {
                let (k, default) = w.split_once('=').unwrap_or((w.as_str(), ""));
                let value = build_arg(self.opts, k)
                    .or_else(|| (!w.contains('=')).then(|| self.global(k)).flatten())
                    .map_or_else(|| current.expand(default, ins.line), Ok)?;
                self.declared.insert(k.to_owned());
                current.args.push((k.to_owned(), value));
            }
        }
        // The key: the parent's, the instruction with what it expands to, the build args it
        // sees, and (COPY/ADD) the digest of its sources; not `--network` (docker's rule).
        let plan = match ins.keyword.as_str() {
            "COPY" | "ADD" => Some(super::copy::plan(self, ins, current, stage)?),
            _ => None,
        };
        let expanded = match ins.keyword.as_str() {
            "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "HEALTHCHECK" => ins.text.clone(),
            _ => current.expand(&ins.text, ins.line)?,
        };
        let mut key_text = format!("{}\n{} {expanded}\n", current.key, ins.keyword);
        if ins.keyword == "RUN" {
            for (k, v) in &current.args {
                key_text.push_str(&format!("arg {k}={v}\n"));
            }
        }
        if let Some(p) = &plan {
            key_text.push_str(&format!("sources {}\n", p.digest));
        }
        let key = Digest::of(key_text.as_bytes());
        let cache = super::cache::Cache::new(self.engine.root());
        if !self.opts.no_cache
            && let Some(state) = cache.get(&key, self.engine.images.store())
        {
            self.progress.cached();
            self.report.cached += 1;
            current.state = state;
            current.key = key;
            if ins.keyword == "CMD" {
                current.cmd_set = true;
            }
            return Ok(());
        }
        let created = self.created();
        match ins.keyword.as_str() {
            "RUN" => {
                let layer = super::workspace::run(self, ins, current)?;
                self.report.runs += 1;
                let by = format!("/bin/sh -c {}", ins.text);
                current.state.record(&created, by, Some(&layer));
            }
            "COPY" | "ADD" => {
                if let Some(p) = plan {
                    let layer = super::copy::execute(self, ins, current, p)?;
                    let by = format!("/bin/sh -c #(nop) {} {expanded}", ins.keyword);
                    current.state.record(&created, by, Some(&layer));
                }
            }
            "ARG" => {}
            _ => {
                super::config::apply(ins, &expanded, current)?;
                let by = format!("/bin/sh -c #(nop) {} {expanded}", ins.keyword);
                current.state.record(&created, by, None);
            }
        }
        cache.put(&key, &current.state)?;
        current.key = key;
        Ok(())
    }

    fn global(&self, name: &str) -> Option<String> {
        self.global_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The state of an earlier stage (for COPY --from).
    pub(crate) fn stage_state(&self, index: usize) -> Option<&ImageState> {
        self.built.get(index)?.as_ref().map(|(s, _)| s)
    }

    fn commit(mut self, state: &ImageState) -> Result<BuildReport, BuildError> {
        let store = self.engine.images.store();
        let config =
            serde_json::to_vec(&state.config).map_err(crate::Error::json("the image config"))?;
        let layers = state.image_layers();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": peapod_image::manifest::OCI_MANIFEST,
            "config": {
                "mediaType": peapod_image::manifest::OCI_CONFIG,
                "size": config.len(),
                "digest": Digest::of(&config).to_string(),
            },
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type, "size": l.blob_size, "digest": l.blob_digest.to_string(),
            })).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).map_err(crate::Error::json("the manifest"))?;
        let names = self
            .opts
            .tags
            .iter()
            .map(|t| peapod_image::reference::normalize(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(peapod_image::Error::from)?;
        let record = peapod_image::ingest::commit_image(
            store,
            (&manifest, peapod_image::manifest::OCI_MANIFEST),
            &config,
            layers,
            &names,
        )?;
        self.report.id = record.id;
        self.report.names = names;
        let mut unused: Vec<String> = self
            .opts
            .build_args
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !self.declared.contains(k))
            .collect();
        unused.dedup();
        self.report.unused_build_args = unused;
        Ok(self.report)
    }
}

/// `--build-arg NAME`'s value, if given.
fn build_arg(opts: &BuildOptions, name: &str) -> Option<String> {
    opts.build_args
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}
