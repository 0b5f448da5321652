//! The Containerfile (Dockerfile) syntax: parser directives (`# escape=`), comments, line
//! continuations, an instruction keyword, its `--flag=value` options and its arguments in
//! exec (JSON array) or shell form; and the `$VAR`/`${VAR:-default}` substitution and the
//! `KEY=value` word splitting that ENV, ARG and LABEL use. The reference is Docker's
//! "Dockerfile reference" (docs.docker.com/reference/dockerfile), the grammar buildkit's
//! `frontend/dockerfile/parser` implements.
//!
//! Our own code rather than the `dockerfile-parser` crate (0.9, the one parser on crates.io):
//! measured here, it parses `RUN --network=none true` as the shell command
//! `--network=none true` (a flag silently run as a program), rejects `# escape=` files,
//! leaves ADD, WORKDIR, USER, SHELL and every unknown word as untyped "misc" text (so the
//! checks were ours anyway), and brings pest, regex and snafu 0.6 (62 crates, 50 s of
//! build on this machine) for ~300 lines of line handling.

use super::BuildError;

/// An instruction's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Args {
    /// The JSON array form (`["sh", "-c", "x"]`).
    Exec(Vec<String>),
    /// Everything after the keyword and flags, as written (continuations joined).
    Shell(String),
}

impl Args {
    /// The arguments as words: the array, or the text split on whitespace.
    pub fn words(&self) -> Vec<String> {
        match self {
            Args::Exec(v) => v.clone(),
            Args::Shell(s) => s.split_whitespace().map(ToOwned::to_owned).collect(),
        }
    }
}

/// One instruction of a Containerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The line it starts on (1-based).
    pub line: usize,
    /// The keyword, upper case (`RUN`).
    pub keyword: String,
    /// Its `--name=value` options in order (`--name` alone has the value `true`).
    pub flags: Vec<(String, String)>,
    /// Its arguments.
    pub args: Args,
    /// The instruction as written after the keyword (for history and the cache key).
    pub text: String,
}

impl Instruction {
    /// The value of flag `name`, if given.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every instruction we know, with the flags each accepts.
const INSTRUCTIONS: &[(&str, &[&str])] = &[
    ("FROM", &["platform"]),
    ("RUN", &["network"]),
    ("COPY", &["chown", "chmod", "from"]),
    ("ADD", &["chown", "chmod"]),
    ("ENV", &[]),
    ("ARG", &[]),
    ("WORKDIR", &[]),
    ("USER", &[]),
    ("CMD", &[]),
    ("ENTRYPOINT", &[]),
    ("EXPOSE", &[]),
    ("LABEL", &[]),
    ("VOLUME", &[]),
    ("SHELL", &[]),
    ("STOPSIGNAL", &[]),
    (
        "HEALTHCHECK",
        &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
    ),
    ("ONBUILD", &[]),
    ("MAINTAINER", &[]),
];

/// Parses a whole Containerfile.
///
/// # Errors
/// [`BuildError::Syntax`] naming the line: an unknown instruction, a flag the instruction
/// does not take (or that we do not implement), an instruction without arguments, a bad
/// escape directive.
pub fn parse(text: &str) -> Result<Vec<Instruction>, BuildError> {
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // Parser directives: `# key=value` lines at the very top.
    while i < lines.len() {
        let Some(rest) = lines[i].trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.contains(char::is_whitespace) {
            break;
        }
        if key == "escape" {
            escape = match value.trim() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(syntax(
                        i + 1,
                        format!("the escape directive must be \\ or `, not {other:?}"),
                    ));
                }
            };
        }
        i += 1;
    }
    let mut out = Vec::new();
    while i < lines.len() {
        let start = i + 1;
        let first = lines[i].trim_start();
        i += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let mut logical = String::new();
        let mut current = first.to_owned();
        loop {
            let trimmed = current.trim_end();
            match trimmed.strip_suffix(escape) {
                Some(head) if i <= lines.len() => {
                    logical.push_str(head);
                    // Comment and empty lines inside a continuation are dropped.
                    while i < lines.len()
                        && (lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#'))
                    {
                        i += 1;
                    }
                    if i == lines.len() {
                        break;
                    }
                    current = lines[i].to_owned();
                    i += 1;
                }
                _ => {
                    logical.push_str(&current);
                    break;
                }
            }
        }
        out.push(instruction(start, &logical)?);
    }
    Ok(out)
}

fn syntax(line: usize, message: String) -> BuildError {
    BuildError::Syntax { line, message }
}

fn instruction(line: usize, logical: &str) -> Result<Instruction, BuildError> {
    let logical = logical.trim();
    let (word, rest) = logical
        .split_once(char::is_whitespace)
        .unwrap_or((logical, ""));
    let keyword = word.to_ascii_uppercase();
    let Some((_, allowed)) = INSTRUCTIONS.iter().find(|(k, _)| *k == keyword) else {
        return Err(syntax(line, format!("unknown instruction {word}")));
    };
    if keyword == "ONBUILD" {
        return Err(syntax(
            line,
            "ONBUILD is not supported (it is rejected in OCI images; Docker's own format only)"
                .into(),
        ));
    }
    let mut rest = rest.trim_start();
    let mut flags = Vec::new();
    while let Some(flag) = rest.strip_prefix("--") {
        let (token, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (name, value) = token.split_once('=').unwrap_or((token, "true"));
        if !allowed.contains(&name) {
            return Err(syntax(
                line,
                format!("{keyword} does not support the flag --{name}"),
            ));
        }
        flags.push((name.to_owned(), value.to_owned()));
        rest = after.trim_start();
    }
    if rest.is_empty() {
        return Err(syntax(line, format!("{keyword} needs arguments")));
    }
    if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD")
        && rest.split_whitespace().any(|w| {
            w.starts_with("<<")
                && w[2..]
                    .trim_start_matches(['-', '"', '\''])
                    .starts_with(|c: char| c.is_ascii_alphabetic())
        })
    {
        return Err(syntax(
            line,
            format!("{keyword} with a heredoc (<<WORD) is not supported"),
        ));
    }
    let args = match rest.starts_with('[') {
        true => match serde_json::from_str::<Vec<String>>(rest) {
            Ok(v) => Args::Exec(v),
            Err(_) => Args::Shell(rest.to_owned()),
        },
        false => Args::Shell(rest.to_owned()),
    };
    Ok(Instruction {
        line,
        keyword,
        flags,
        args,
        text: logical[word.len()..].trim().to_owned(),
    })
}

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` from
/// `lookup` (unset is empty); `\$` is a literal `$`.
///
/// # Errors
/// [`BuildError::Syntax`] for an unterminated `${`.
pub fn expand(
    text: &str,
    line: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, BuildError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'$') => {
                out.push('$');
                chars.next();
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => inner.push(ch),
                        None => return Err(syntax(line, format!("unterminated ${{ in {text:?}"))),
                    }
                }
                let (name, op) = match inner.find(":-").or_else(|| inner.find(":+")) {
                    Some(at) => (&inner[..at], Some((&inner[at..at + 2], &inner[at + 2..]))),
                    None => (inner.as_str(), None),
                };
                let value = lookup(name).filter(|v| !v.is_empty());
                match op {
                    None => out.push_str(&value.unwrap_or_default()),
                    Some((":-", default)) => match value {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&expand(default, line, lookup)?),
                    },
                    Some((_, alternative)) => {
                        if value.is_some() {
                            out.push_str(&expand(alternative, line, lookup)?);
                        }
                    }
                }
            }
            '$' if chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
            {
                let mut name = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_ascii_alphanumeric() || ch == '_' {
                        name.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(&lookup(&name).unwrap_or_default());
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits `text` into words on unquoted whitespace, removing quotes (`"…"`, `'…'`) and
/// backslash escapes, as ENV, ARG and LABEL read their `KEY=value` pairs.
///
/// # Errors
/// [`BuildError::Syntax`] for an unterminated quote.
pub fn words(text: &str, line: usize) -> Result<Vec<String>, BuildError> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(syntax(line, format!("unterminated quote in {text:?}")));
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// `KEY=value` pairs of ENV or LABEL (also the legacy `ENV KEY value` form).
///
/// # Errors
/// [`BuildError::Syntax`] for a word without `=` (in the pair form) or a bad quote.
pub fn pairs(text: &str, line: usize, keyword: &str) -> Result<Vec<(String, String)>, BuildError> {
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (key, value) = text
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((text.trim(), ""));
        let value = words(value, line)?.join(" ");
        return Ok(vec![(key.to_owned(), value)]);
    }
    words(text, line)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(syntax(
                line,
                format!("{keyword}: expected KEY=value, got {w:?}"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests;
