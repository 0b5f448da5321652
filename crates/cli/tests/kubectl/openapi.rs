//! Kubernetes' own OpenAPI v2 document (`swagger.json`) as kubectl fetches it from
//! `/openapi/v2`: gnostic's `openapi.v2.Document` in protobuf (client-go's
//! `DiscoveryClient::OpenAPISchema` asks for
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and unmarshals the body as
//! that message, whatever the content type says).
//!
//! Only the document's `definitions` are carried over, every keyword of every schema (an
//! unknown keyword is an error, never dropped): they are all kubectl's client-side
//! validation reads (kube-openapi `pkg/util/proto`: types, properties, required, items,
//! additionalProperties, `$ref`, and the `x-kubernetes-group-version-kind` extension that
//! maps a kind to its schema). The `paths` are left out on purpose: kubectl ≥ 1.24 looks
//! there for the `fieldValidation` parameter and, if the server takes it, leaves validation
//! to the server, which `--dry-run=client` never reaches.
//!
//! The messages are the subset of gnostic's `OpenAPIv2.proto` (Debian's
//! `golang-github-googleapis-gnostic-dev`) needed here, field numbers as there, written with
//! prost's derive (no protoc run for a test fixture).

use serde_json::{Map, Value};

/// `openapi.v2.Document` (only what a schema-only document has).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Document {
    #[prost(string, tag = "1")]
    pub(crate) swagger: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) info: Option<Info>,
    #[prost(message, optional, tag = "9")]
    pub(crate) definitions: Option<Definitions>,
}

/// `openapi.v2.Info`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Info {
    #[prost(string, tag = "1")]
    pub(crate) title: String,
    #[prost(string, tag = "2")]
    pub(crate) version: String,
}

/// `openapi.v2.Definitions` (and, with the same shape, `openapi.v2.Properties`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedSchema {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Schema>,
}

/// `openapi.v2.Any`: a value as YAML text (JSON is YAML).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(string, tag = "2")]
    pub(crate) yaml: String,
}

/// `openapi.v2.NamedAny`: a vendor extension (`x-…`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedAny {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Any>,
}

/// `openapi.v2.TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub(crate) value: Vec<String>,
}

/// `openapi.v2.ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub(crate) schema: Vec<Schema>,
}

/// `openapi.v2.AdditionalPropertiesItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AdditionalPropertiesItem {
    #[prost(oneof = "Additional", tags = "1, 2")]
    pub(crate) oneof: Option<Additional>,
}

/// Its `oneof`: a schema or a boolean.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Additional {
    #[prost(message, tag = "1")]
    Schema(Box<Schema>),
    #[prost(bool, tag = "2")]
    Boolean(bool),
}

/// `openapi.v2.Schema` (all of it but `xml` and `externalDocs`, which Kubernetes' schemas
/// do not use; met, they are an error).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Schema {
    #[prost(string, tag = "1")]
    pub(crate) r#ref: String,
    #[prost(string, tag = "2")]
    pub(crate) format: String,
    #[prost(string, tag = "3")]
    pub(crate) title: String,
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "5")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "6")]
    pub(crate) multiple_of: f64,
    #[prost(double, tag = "7")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "8")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "9")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "10")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "11")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "12")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "13")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "14")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "15")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "16")]
    pub(crate) unique_items: bool,
    #[prost(int64, tag = "17")]
    pub(crate) max_properties: i64,
    #[prost(int64, tag = "18")]
    pub(crate) min_properties: i64,
    #[prost(string, repeated, tag = "19")]
    pub(crate) required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(message, optional, tag = "21")]
    pub(crate) additional_properties: Option<AdditionalPropertiesItem>,
    #[prost(message, optional, tag = "22")]
    pub(crate) r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub(crate) items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub(crate) all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub(crate) properties: Option<Definitions>,
    #[prost(string, tag = "26")]
    pub(crate) discriminator: String,
    #[prost(bool, tag = "27")]
    pub(crate) read_only: bool,
    #[prost(message, optional, tag = "30")]
    pub(crate) example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `swagger.json`'s text → the protobuf body of `/openapi/v2`; the number of definitions.
pub(crate) fn encode(swagger: &str) -> Result<(Vec<u8>, usize), String> {
    let doc: Value = serde_json::from_str(swagger).map_err(|e| format!("not JSON: {e}"))?;
    let info = doc.get("info").and_then(Value::as_object);
    let text = |o: Option<&Map<String, Value>>, k: &str| {
        o.and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let defs = doc
        .get("definitions")
        .and_then(Value::as_object)
        .ok_or("no definitions")?;
    let document = Document {
        swagger: text(doc.as_object(), "swagger"),
        info: Some(Info {
            title: text(info, "title"),
            version: text(info, "version"),
        }),
        definitions: Some(named(defs, "#/definitions")?),
    };
    Ok((prost::Message::encode_to_vec(&document), defs.len()))
}

fn named(map: &Map<String, Value>, at: &str) -> Result<Definitions, String> {
    let additional_properties = map
        .iter()
        .map(|(name, v)| {
            Ok(NamedSchema {
                name: name.clone(),
                value: Some(schema(v, &format!("{at}/{name}"))?),
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Definitions {
        additional_properties,
    })
}

fn any(v: &Value) -> Any {
    Any {
        yaml: v.to_string(),
    }
}

/// One schema object, every keyword converted or refused.
fn schema(v: &Value, at: &str) -> Result<Schema, String> {
    let obj = v.as_object().ok_or(format!("{at}: not an object"))?;
    let mut s = Schema::default();
    for (key, val) in obj {
        let here = format!("{at}/{key}");
        let bad = || format!("{here}: unexpected value {val}");
        let string = || val.as_str().map(str::to_owned).ok_or_else(bad);
        let float = || val.as_f64().ok_or_else(bad);
        let int = || val.as_i64().ok_or_else(bad);
        let boolean = || val.as_bool().ok_or_else(bad);
        match key.as_str() {
            "$ref" => s.r#ref = string()?,
            "format" => s.format = string()?,
            "title" => s.title = string()?,
            "description" => s.description = string()?,
            "default" => s.default = Some(any(val)),
            "multipleOf" => s.multiple_of = float()?,
            "maximum" => s.maximum = float()?,
            "exclusiveMaximum" => s.exclusive_maximum = boolean()?,
            "minimum" => s.minimum = float()?,
            "exclusiveMinimum" => s.exclusive_minimum = boolean()?,
            "maxLength" => s.max_length = int()?,
            "minLength" => s.min_length = int()?,
            "pattern" => s.pattern = string()?,
            "maxItems" => s.max_items = int()?,
            "minItems" => s.min_items = int()?,
            "uniqueItems" => s.unique_items = boolean()?,
            "maxProperties" => s.max_properties = int()?,
            "minProperties" => s.min_properties = int()?,
            "required" => s.required = strings(val).ok_or_else(bad)?,
            "enum" => s.r#enum = val.as_array().ok_or_else(bad)?.iter().map(any).collect(),
            "additionalProperties" => {
                let oneof = match val {
                    Value::Bool(b) => Additional::Boolean(*b),
                    _ => Additional::Schema(Box::new(schema(val, &here)?)),
                };
                s.additional_properties = Some(AdditionalPropertiesItem { oneof: Some(oneof) });
            }
            "type" => {
                let value = match val {
                    Value::String(t) => vec![t.clone()],
                    _ => strings(val).ok_or_else(bad)?,
                };
                s.r#type = Some(TypeItem { value });
            }
            "items" => {
                let schema = match val {
                    Value::Array(list) => list
                        .iter()
                        .enumerate()
                        .map(|(i, v)| schema(v, &format!("{here}/{i}")))
                        .collect::<Result<_, _>>()?,
                    _ => vec![schema(val, &here)?],
                };
                s.items = Some(ItemsItem { schema });
            }
            "allOf" => {
                s.all_of = val
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .enumerate()
                    .map(|(i, v)| schema(v, &format!("{here}/{i}")))
                    .collect::<Result<_, _>>()?;
            }
            "properties" => s.properties = Some(named(val.as_object().ok_or_else(bad)?, &here)?),
            "discriminator" => s.discriminator = string()?,
            "readOnly" => s.read_only = boolean()?,
            "example" => s.example = Some(any(val)),
            x if x.starts_with("x-") => s.vendor_extension.push(NamedAny {
                name: key.clone(),
                value: Some(any(val)),
            }),
            _ => return Err(format!("{here}: a keyword this conversion does not know")),
        }
    }
    Ok(s)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}
