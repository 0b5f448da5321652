//! Go templates (`--format`) through `gtmpl`, with docker's `table` prefix, its `json`,
//! `upper`, `lower`, `join`, `title` and `truncate` functions, and its padded columns.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, Result, anyhow};
use gtmpl::{Func, FuncError, Value as G};
use serde_json::Value;
use tabwriter::TabWriter;

/// A parsed `--format` template.
pub(crate) struct Template {
    inner: gtmpl::Template,
    table: bool,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template(table: {})", self.table)
    }
}

impl Template {
    /// Parses `text`; a leading `table` asks for a header and padded columns.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let (table, body) = match text.trim().strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim())
            }
            _ => (false, text.trim()),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut inner = gtmpl::Template::default();
        let funcs: [(&str, Func); 6] = [
            ("json", json),
            ("upper", upper),
            ("lower", lower),
            ("title", title),
            ("join", join),
            ("truncate", truncate),
        ];
        inner.add_funcs(&funcs);
        inner
            .parse(body)
            .map_err(|e| anyhow!("invalid --format template {text:?}: {e}"))?;
        Ok(Self { inner, table })
    }

    /// Renders one value (no newline added).
    pub(crate) fn render(&self, value: &Value) -> Result<String> {
        self.inner
            .render(&gtmpl::Context::from(to_gtmpl(value)))
            .map_err(|e| anyhow!("cannot apply the --format template: {e}"))
    }

    /// One line per row; for a table, a header line first (each field's name from
    /// `headers`, else its own name in capitals) and columns padded as docker pads them.
    pub(crate) fn print(
        &self,
        out: &mut impl Write,
        rows: &[Value],
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let mut text = String::new();
        if self.table {
            let header: serde_json::Map<String, Value> = rows
                .first()
                .and_then(Value::as_object)
                .map(|o| {
                    o.keys()
                        .map(|k| (k.clone(), Value::String(k.to_uppercase())))
                        .collect()
                })
                .unwrap_or_default();
            let mut header = header;
            for (field, name) in headers {
                header.insert((*field).to_owned(), Value::String((*name).to_owned()));
            }
            text.push_str(&self.render(&Value::Object(header))?);
            text.push('\n');
        }
        for row in rows {
            text.push_str(&self.render(row)?);
            text.push('\n');
        }
        if self.table {
            let mut tw = TabWriter::new(Vec::new())
                // Go's tabwriter (docker: minwidth 10, padding 3) counts the padding in
                // the minimum width; this one adds it after.
                .minwidth(7)
                .padding(3);
            tw.write_all(text.as_bytes())
                .context("cannot lay out the table")?;
            let bytes = tw
                .into_inner()
                .map_err(|e| anyhow!("cannot lay out the table: {e}"))?;
            out.write_all(&bytes).context("cannot write to stdout")
        } else {
            out.write_all(text.as_bytes())
                .context("cannot write to stdout")
        }
    }
}

/// JSON as template data: objects become structs whose missing fields are an error (as Go's
/// are), numbers stay numbers.
fn to_gtmpl(value: &Value) -> G {
    match value {
        Value::Null => G::Nil,
        Value::Bool(b) => G::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => G::from(i),
            (_, Some(u), _) => G::from(u),
            (_, _, Some(f)) => G::from(f),
            _ => G::Nil,
        },
        Value::String(s) => G::String(s.clone()),
        Value::Array(a) => G::Array(a.iter().map(to_gtmpl).collect()),
        Value::Object(o) => G::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// Template data back as JSON (for `{{json .}}`).
fn from_gtmpl(value: &G) -> Value {
    match value {
        G::NoValue | G::Nil | G::Function(_) => Value::Null,
        G::Bool(b) => Value::Bool(*b),
        G::String(s) => Value::String(s.clone()),
        G::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::Null,
        },
        G::Array(a) => Value::Array(a.iter().map(from_gtmpl).collect()),
        G::Object(o) | G::Map(o) => {
            // Sorted keys: the same data always prints the same.
            let mut keys: Vec<_> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), from_gtmpl(&o[k])))
                    .collect(),
            )
        }
    }
}

fn one_arg<'a>(name: &str, args: &'a [G]) -> Result<&'a G, FuncError> {
    match args {
        [one] => Ok(one),
        _ => Err(FuncError::ExactlyXArgs(name.to_owned(), 1)),
    }
}

fn text_of(value: &G) -> String {
    match value {
        G::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json(args: &[G]) -> Result<G, FuncError> {
    let value = from_gtmpl(one_arg("json", args)?);
    Ok(G::String(value.to_string()))
}

fn upper(args: &[G]) -> Result<G, FuncError> {
    Ok(G::String(text_of(one_arg("upper", args)?).to_uppercase()))
}

fn lower(args: &[G]) -> Result<G, FuncError> {
    Ok(G::String(text_of(one_arg("lower", args)?).to_lowercase()))
}

fn title(args: &[G]) -> Result<G, FuncError> {
    let text = text_of(one_arg("title", args)?);
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    Ok(G::String(out))
}

fn join(args: &[G]) -> Result<G, FuncError> {
    let [G::Array(items), sep] = args else {
        return Err(FuncError::Generic(
            "join takes a list and a separator".into(),
        ));
    };
    let parts: Vec<String> = items.iter().map(text_of).collect();
    Ok(G::String(parts.join(&text_of(sep))))
}

fn truncate(args: &[G]) -> Result<G, FuncError> {
    let [text, G::Number(n)] = args else {
        return Err(FuncError::Generic(
            "truncate takes a string and a length".into(),
        ));
    };
    let len = n
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    Ok(G::String(text_of(text).chars().take(len).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn print(format: &str, rows: &[Value]) -> String {
        let mut out = Vec::new();
        Template::parse(format)
            .unwrap()
            .print(&mut out, rows, &[("ID", "IMAGE ID")])
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_plain_template_prints_one_line_per_row() {
        let rows = [
            json!({"ID": "abc", "Size": 3}),
            json!({"ID": "de", "Size": 10}),
        ];
        assert_eq!(print("{{.ID}}\\t{{.Size}}", &rows), "abc\t3\nde\t10\n");
        assert_eq!(
            print("{{json .}}", &rows[..1]),
            "{\"ID\":\"abc\",\"Size\":3}\n"
        );
        assert_eq!(print("{{upper .ID}}", &rows[..1]), "ABC\n");
    }

    #[test]
    fn a_table_template_has_a_header_and_padded_columns() {
        let rows = [
            json!({"ID": "abc", "Tag": "x"}),
            json!({"ID": "de", "Tag": "yy"}),
        ];
        assert_eq!(
            print("table {{.ID}}\\t{{.Tag}}", &rows),
            "IMAGE ID   TAG\nabc        x\nde         yy\n"
        );
    }

    #[test]
    fn an_unknown_field_or_bad_syntax_is_an_error() {
        assert!(Template::parse("{{.ID").is_err());
        let t = Template::parse("{{.Nope}}").unwrap();
        assert!(t.render(&json!({"ID": "a"})).is_err());
    }
}
