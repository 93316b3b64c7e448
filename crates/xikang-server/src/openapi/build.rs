//! The typed half of the document: what each operation takes (a JSON body with an example,
//! query parameters) and answers (a status with a schema), from the handlers' own types
//! through utoipa's `ToSchema` and `IntoParams` derives. [`super::bodies`] says it once per
//! operation; [`super::document`] joins it to the table of summaries, tags and auth.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// What one operation takes and answers, as OpenAPI JSON.
#[derive(Debug, Default)]
pub struct Typed {
    /// The `requestBody` object, if the operation reads a body.
    pub request: Option<Value>,
    /// Query parameters.
    pub query: Vec<Value>,
    /// The success responses: status → response object.
    pub ok: BTreeMap<String, Value>,
}

/// The typed operations and the schemas they refer to.
#[derive(Debug, Default)]
pub struct Doc {
    /// `components.schemas`, by name.
    pub schemas: BTreeMap<String, Value>,
    /// The operations, by (method, path).
    pub ops: BTreeMap<(&'static str, &'static str), Typed>,
    /// Two types that claimed one component name with different schemas, or an operation
    /// described twice: the document is refused (see the tests).
    pub clashes: Vec<String>,
}

impl Doc {
    /// Starts describing `method path` (lower-case method, the router's path with
    /// `/api/v1`). The description is stored when the [`Op`] is dropped, at the end of the
    /// statement; it needs at least one success answer.
    pub fn op(&mut self, method: &'static str, path: &'static str) -> Op<'_> {
        Op {
            doc: self,
            key: (method, path),
            typed: Typed::default(),
        }
    }

    /// A `$ref` to `T`'s component schema (registering it and every schema it refers to),
    /// or `T`'s schema inline when `T` is generic (`ItemsOut<CaseOut>`, `Vec<PeerOut>`):
    /// utoipa names a generic type without its arguments, so one name would stand for many.
    pub fn schema<T: ToSchema>(&mut self) -> Value {
        let mut nested: Vec<(String, RefOr<Schema>)> = Vec::new();
        T::schemas(&mut nested);
        for (name, schema) in nested {
            self.register(name, to_json(&schema));
        }
        let inline = to_json(&<T as PartialSchema>::schema());
        if is_generic(std::any::type_name::<T>()) {
            return inline;
        }
        let name = T::name().into_owned();
        self.register(name.clone(), inline);
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn register(&mut self, name: String, schema: Value) {
        match self.schemas.get(&name) {
            Some(old) if *old != schema => {
                let clash = format!(
                    "two types are both called {name} in the document; give one #[schema(as = …)]"
                );
                if !self.clashes.contains(&clash) {
                    self.clashes.push(clash);
                }
            }
            Some(_) => {}
            None => {
                self.schemas.insert(name, schema);
            }
        }
    }
}

/// One operation being described.
#[derive(Debug)]
pub struct Op<'d> {
    doc: &'d mut Doc,
    key: (&'static str, &'static str),
    typed: Typed,
}

impl Op<'_> {
    /// A JSON request body of type `T`, with an example (every body has one: clients and
    /// schemathesis start from it).
    pub fn json<T: ToSchema>(mut self, example: Value) -> Self {
        let schema = self.doc.schema::<T>();
        self.typed.request = Some(json!({
            "required": true,
            "content": {"application/json": {"schema": schema, "example": example}}
        }));
        self
    }

    /// A JSON request body with a schema built from others (`oneOf` one item or a batch).
    pub fn json_schema(mut self, schema: Value, example: Value) -> Self {
        self.typed.request = Some(json!({
            "required": true,
            "content": {"application/json": {"schema": schema, "example": example}}
        }));
        self
    }

    /// A request body that is not JSON (an image upload): the bytes themselves, in each of
    /// `media`.
    pub fn body_media(mut self, media: &[&str], description: &str) -> Self {
        let content: serde_json::Map<String, Value> = media
            .iter()
            .map(|m| {
                let schema =
                    json!({"type": "string", "format": "binary", "description": description});
                ((*m).to_owned(), json!({ "schema": schema }))
            })
            .collect();
        self.typed.request = Some(json!({"required": true, "content": content}));
        self
    }

    /// Another accepted media type for the body (CSV, XLSX uploads), beside the JSON one.
    pub fn also_accepts(mut self, media: &str, description: &str) -> Self {
        if let Some(req) = self.typed.request.as_mut() {
            req["content"][media] =
                json!({"schema": {"type": "string", "description": description}});
        }
        self
    }

    /// Registers `T`, the type argument of a generic answer (`ItemsOut<T>`, `PageOut<T>`,
    /// `BatchOut<T>`): the inlined generic schema refers to it by name.
    pub fn item<T: ToSchema>(self) -> Self {
        self.doc.schema::<T>();
        self
    }

    /// Query parameters from `T`'s fields.
    pub fn query<T: IntoParams>(mut self) -> Self {
        for p in T::into_params(|| Some(ParameterIn::Query)) {
            self.typed.query.push(to_json(&p));
        }
        self
    }

    /// Another success answer with a JSON body of type `T` (e.g. 200 beside 201).
    pub fn also<T: ToSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = self.doc.schema::<T>();
        self.typed.ok.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    /// The success answer: `status` and a JSON body of type `T`.
    pub fn ok<T: ToSchema>(self, status: u16) -> Self {
        self.also::<T>(status, "Success")
    }

    /// A success answer whose JSON schema is built from others (`anyOf` one or a batch).
    pub fn ok_json(mut self, status: u16, schema: Value, description: &str) -> Self {
        self.typed.ok.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    /// A success answer with a JSON object whose shape another document defines (the trust
    /// list, this document itself) or that has no Rust type of its own.
    pub fn ok_free(self, status: u16, description: &str) -> Self {
        self.ok_json(status, json!({"type": "object"}), description)
    }

    /// A success answer in another media type (text, an image, a file).
    pub fn ok_media(mut self, status: u16, media: &str, description: &str) -> Self {
        let schema = if media.starts_with("image/png")
            || media.starts_with("application/vnd")
            || media.starts_with("application/octet")
            || media.starts_with("application/cose")
        {
            json!({"type": "string", "format": "binary"})
        } else {
            json!({"type": "string"})
        };
        let entry = self
            .typed
            .ok
            .entry(status.to_string())
            .or_insert_with(|| json!({"description": description, "content": {}}));
        entry["content"][media] = json!({ "schema": schema });
        self
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        let typed = std::mem::take(&mut self.typed);
        if typed.ok.is_empty() {
            self.doc.clashes.push(format!(
                "{} {} has no success answer",
                self.key.0, self.key.1
            ));
        }
        if self.doc.ops.insert(self.key, typed).is_some() {
            self.doc
                .clashes
                .push(format!("{} {} is described twice", self.key.0, self.key.1));
        }
    }
}

/// Whether a type has type arguments (`ItemsOut<CaseOut>`); lifetimes do not count: a
/// `CodeOut<'_>` has one schema.
pub(super) fn is_generic(type_name: &str) -> bool {
    type_name
        .split(['<', ',', '>'])
        .skip(1)
        .map(str::trim)
        .any(|arg| !arg.is_empty() && !arg.starts_with('\''))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    // utoipa's types serialize infallibly (maps with string keys, no floats as keys).
    serde_json::to_value(v).unwrap_or(Value::Null)
}
