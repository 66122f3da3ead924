//! Schemas for string fields that take one of a fixed set of values, built from the same
//! lists the handlers check against (`#[schema(schema_with = …)]`), so the document names
//! exactly what is accepted.

use openclaw_core::db::api_keys::SCOPES;
use openclaw_core::db::spend::GroupBy;
use openclaw_core::domain::{KeyMode, MessageType, Role, Status};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Array, RefOr, Schema};

fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// `queued`, `sent`, … (`status` of a message).
pub fn message_status() -> Object {
    one_of(Status::ALL.map(Status::as_str))
}

/// What a message's event says: a status it moved to, `outcome_unknown` or `receipt_overdue`.
pub fn message_event() -> Object {
    use openclaw_core::db::messages::{OUTCOME_UNKNOWN, RECEIPT_OVERDUE};
    one_of(
        Status::ALL
            .map(Status::as_str)
            .into_iter()
            .chain([OUTCOME_UNKNOWN, RECEIPT_OVERDUE]),
    )
}

/// `day`, `provider`, `country` or `message_type`.
pub fn spend_group_by() -> Object {
    one_of(GroupBy::NAMES)
}

/// `live`, `test` or null (an optional field).
pub fn key_mode() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            KeyMode::ALL
                .map(|m| Value::from(m.as_str()))
                .into_iter()
                .chain([Value::Null]),
        ))
        .build()
}

/// One or more of the scopes, e.g. `["messages:send", "messages:read"]`, or null (an
/// optional field).
pub fn key_scopes() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(RefOr::T(Schema::Object(one_of(SCOPES))))
        .min_items(Some(1))
        .build()
}

/// The message types a tenant may send to opted-out numbers all the same (`transactional`,
/// `otp`; never `marketing`), or null (an optional field).
pub fn opt_out_exempt_types() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(RefOr::T(Schema::Object(one_of(
            MessageType::ALL
                .into_iter()
                .filter(|t| t.may_skip_opt_outs())
                .map(MessageType::as_str),
        ))))
        .build()
}

/// A role inside a tenant (never a platform role).
pub fn tenant_role() -> Object {
    one_of(Role::TENANT.map(Role::as_str))
}

/// No string this API takes may hold a NUL character: the JSON body extractor and the query
/// check refuse one with 400 (Postgres cannot store it). This says so in the document, as a
/// pattern on every string schema that has neither a format, a pattern nor a fixed set of
/// values of its own.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// Puts [`NO_NUL`] on the strings of the document's components, parameters and request bodies.
pub fn forbid_nul_in_strings(doc: &mut utoipa::openapi::OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(in_ref_or);
    }
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for param in op.parameters.iter_mut().flatten() {
                if let Some(schema) = param.schema.as_mut() {
                    in_ref_or(schema);
                }
            }
            if let Some(body) = op.request_body.as_mut() {
                body.content
                    .values_mut()
                    .filter_map(|c| c.schema.as_mut())
                    .for_each(in_ref_or);
            }
        }
    }
}

/// Documents the `X-Request-Id` every response carries
/// ([`openclaw_core::request::request_ids`]) on every response of the document.
pub fn document_request_id(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    let header = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(openclaw_core::trace::RequestId::MAX_LEN)),
        )
        .description(Some(
            "The request's id: the `X-Request-Id` sent, when it is 1 to 128 characters of \
             `A-Z a-z 0-9 . _ : - / + = @`; else one made for it. The server's and the \
             worker's log lines about this request and the messages it sent carry it.",
        ))
        .build();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response
                        .headers
                        .insert("X-Request-Id".to_owned(), header.clone());
                }
            }
        }
    }
}

fn in_ref_or(schema: &mut RefOr<Schema>) {
    if let RefOr::T(schema) = schema {
        in_schema(schema);
    }
}

fn in_schema(schema: &mut Schema) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems};
    match schema {
        Schema::Object(o) => {
            let is_string = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string && o.format.is_none() && o.pattern.is_none() && o.enum_values.is_none() {
                o.pattern = Some(NO_NUL.to_owned());
            }
            o.properties.values_mut().for_each(in_ref_or);
            if let Some(extra) = o.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(extra) = extra
            {
                in_ref_or(extra);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                in_ref_or(items);
            }
        }
        Schema::OneOf(s) => s.items.iter_mut().for_each(in_ref_or),
        Schema::AllOf(s) => s.items.iter_mut().for_each(in_ref_or),
        Schema::AnyOf(s) => s.items.iter_mut().for_each(in_ref_or),
        _ => {}
    }
}

/// The document as served: JSON, with the fields of response links in the spelling OpenAPI
/// gives them (`operationId`, `operationRef`, `requestBody`; utoipa 5.5 writes them in
/// snake_case, which no client reads).
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> Vec<u8> {
    let mut value = serde_json::to_value(doc).expect("the document serializes");
    let links = value["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_owned(), v);
            }
        }
    }
    serde_json::to_vec(&value).expect("the document serializes")
}
