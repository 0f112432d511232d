//! Schemas of the core's types that the API carries. The core knows nothing of HTTP or
//! OpenAPI (no utoipa in `outreach-core`), so these are built here: enums from the
//! core's own variant lists, settings objects from their serialized defaults (a field
//! added to `ServiceContext` or `CopyRules` appears in the document without an edit).

use outreach_core::input::ColumnOverrides;
use outreach_core::output::OutputFormat;
use outreach_core::ports::{JobStatus, Timing};
use outreach_core::ServiceContext;
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::KnownFormat;

/// Every job status, in lifecycle order. The match makes adding a variant to the core's
/// enum a compile error here until it is listed.
pub const JOB_STATUSES: [JobStatus; 5] = [
    JobStatus::Queued,
    JobStatus::InProgress,
    JobStatus::Succeeded,
    JobStatus::Failed,
    JobStatus::Cancelled,
];

const _: fn(JobStatus) = |s| match s {
    JobStatus::Queued
    | JobStatus::InProgress
    | JobStatus::Succeeded
    | JobStatus::Failed
    | JobStatus::Cancelled => {}
};

pub const OUTPUT_FORMATS: [OutputFormat; 2] = [OutputFormat::Xlsx, OutputFormat::Csv];

const _: fn(OutputFormat) = |f| match f {
    OutputFormat::Xlsx | OutputFormat::Csv => {}
};

fn string_enum<T: serde::Serialize>(values: &[T], nullable: bool) -> Object {
    let mut names: Vec<Value> = values
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
    let mut builder = ObjectBuilder::new();
    if nullable {
        names.push(Value::Null);
        builder = builder.schema_type(SchemaType::from_iter([Type::String, Type::Null]));
    } else {
        builder = builder.schema_type(Type::String);
    }
    builder.enum_values(Some(names)).build()
}

pub fn job_status() -> Object {
    string_enum(&JOB_STATUSES, false)
}

pub fn output_format() -> Object {
    string_enum(&OUTPUT_FORMATS, false)
}

pub fn optional_output_format() -> Object {
    string_enum(&OUTPUT_FORMATS, true)
}

/// The schema of a settings object from its serialized default: strings, numbers,
/// booleans, string lists and nested objects; `null` (an unset `Option<String>`) is
/// a string or null. `strict` mirrors `deny_unknown_fields`.
fn from_default(value: &Value, strict: bool) -> Schema {
    match value {
        Value::Object(map) => {
            let mut builder = ObjectBuilder::new().schema_type(Type::Object);
            for (name, v) in map {
                builder = builder.property(name, from_default(v, strict));
            }
            if strict {
                builder =
                    builder.additional_properties(Some(AdditionalProperties::FreeForm(false)));
            }
            Schema::Object(builder.build())
        }
        Value::String(_) => Schema::Object(ObjectBuilder::new().schema_type(Type::String).build()),
        Value::Bool(_) => Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
        Value::Number(n) if n.is_u64() => Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build(),
        ),
        Value::Number(_) => Schema::Object(ObjectBuilder::new().schema_type(Type::Number).build()),
        Value::Array(_) => Schema::Array(
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .build(),
        ),
        Value::Null => Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .build(),
        ),
    }
}

fn object_from_default<T: serde::Serialize + Default>(strict: bool) -> Schema {
    match serde_json::to_value(T::default()) {
        Ok(v) => from_default(&v, strict),
        Err(_) => Schema::Object(ObjectBuilder::new().schema_type(Type::Object).build()),
    }
}

/// The service context: its six text fields and the copy rules; absent fields take
/// the defaults (`GET /ui/config.json` carries them).
pub fn service_context() -> Schema {
    object_from_default::<ServiceContext>(false)
}

/// Header names per column role (`deny_unknown_fields`).
pub fn column_overrides() -> Schema {
    object_from_default::<ColumnOverrides>(true)
}

/// A file in a response body.
pub fn binary() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .build()
}

/// A date-time or null.
pub fn optional_timestamp() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// A date-time.
pub fn timestamp() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// A finished job's figures, or null before it finishes.
pub fn timing() -> Schema {
    match object_from_default::<Timing>(false) {
        Schema::Object(mut o) => {
            o.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
            Schema::Object(o)
        }
        other => other,
    }
}
