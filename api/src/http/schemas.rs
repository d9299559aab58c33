//! Schemas of values that are plain strings or objects on the wire but have a precise domain,
//! so that the OpenAPI document says exactly what is accepted.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// An IANA time zone name (`Europe/Paris`, `UTC`, …).
pub struct TimeZoneName;

impl PartialSchema for TimeZoneName {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some("An IANA time zone name"))
            .enum_values(Some(names))
            .examples(["Europe/Paris"])
            .into()
    }
}

impl ToSchema for TimeZoneName {}

/// Which versions retention keeps; a version goes only when no rule keeps it. With no rule,
/// everything is kept.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "min_keep": 3}))]
/// The counts are unsigned 32-bit (what the server takes): documented as int64 with that
/// maximum, since OpenAPI's int32 would promise a bound of 2^31 − 1 the server does not keep.
#[allow(dead_code)]
pub struct RetentionPolicy {
    /// The newest N versions.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    keep_last: Option<u32>,
    /// The newest version of each of the last N days.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    keep_daily: Option<u32>,
    /// The newest version of each of the last N ISO weeks.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    keep_weekly: Option<u32>,
    /// The newest version of each of the last N months.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    keep_monthly: Option<u32>,
    /// The newest version of each of the last N years.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    keep_yearly: Option<u32>,
    /// Every version younger than this many days.
    #[schema(minimum = 0, maximum = 4294967295.0, format = Int64)]
    max_age_days: Option<u32>,
    /// Never fewer completed versions than this (default 1).
    #[schema(minimum = 1, maximum = 4294967295.0, format = Int64)]
    min_keep: Option<u32>,
}
