//! Field schemas with the limits the server enforces, taken from the same constants
//! ([`changelog_core::store::limits`], [`crate::auth::password`]), so the document states
//! exactly what a request may hold.
//!
//! Every text field refuses the NUL character (PostgreSQL cannot store it); fields that must
//! not be blank are checked with Rust's notion of whitespace (Unicode `White_Space`), spelled
//! out here because regular-expression dialects disagree on `\s`.

use changelog_core::Style;
use changelog_core::request::TEMPERATURES;
use changelog_core::store::MAX_PAGE_SIZE;
use changelog_core::store::limits::{
    MAX_ANNOTATION_LEN, MAX_COMMIT_RANGE_LEN, MAX_CONTENT_LEN, MAX_MODEL_LEN, MAX_REPOSITORY_LEN,
    MAX_SEARCH_LEN, MAX_SEARCH_TERMS, MAX_TAG_LEN, MAX_TAGS_PER_CHANGELOG, MAX_TITLE_LEN,
    MAX_VERSION_LEN,
};
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};

use crate::auth::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::routes::api_keys::MAX_KEY_NAME_CHARS;
use crate::routes::auth::MAX_EMAIL_CHARS;

/// Rust's whitespace (`char::is_whitespace`, the Unicode `White_Space` property) as the inside
/// of a character class.
const WHITESPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Any text without NUL.
pub const NO_NUL: &str = r"^[^\x00]*$";

/// Text without NUL and with at least one character that is not whitespace.
#[must_use]
pub fn not_blank_pattern() -> String {
    format!(r"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$")
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// Text of at most `max` characters, without NUL.
fn text(max: usize) -> ObjectBuilder {
    string().max_length(Some(max)).pattern(Some(NO_NUL))
}

/// Text of 1 to `max` characters, not blank, without NUL.
fn not_blank(max: usize) -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(not_blank_pattern()))
}

/// `null` or text of at most `max` characters without NUL.
fn optional_text(max: usize) -> ObjectBuilder {
    nullable_string()
        .max_length(Some(max))
        .pattern(Some(NO_NUL))
}

/// A changelog's title.
#[must_use]
pub fn title() -> Schema {
    not_blank(MAX_TITLE_LEN).into()
}

/// `null` (the default title) or a title.
#[must_use]
pub fn optional_title() -> Schema {
    nullable_string()
        .min_length(Some(1))
        .max_length(Some(MAX_TITLE_LEN))
        .pattern(Some(not_blank_pattern()))
        .into()
}

/// A changelog's Markdown.
#[must_use]
pub fn content() -> Schema {
    text(MAX_CONTENT_LEN).into()
}

/// `null` or a changelog's Markdown.
#[must_use]
pub fn optional_content() -> Schema {
    optional_text(MAX_CONTENT_LEN).into()
}

/// `null` or a release version.
#[must_use]
pub fn optional_version() -> Schema {
    optional_text(MAX_VERSION_LEN).into()
}

/// `null` or a repository URL or name.
#[must_use]
pub fn optional_repository() -> Schema {
    optional_text(MAX_REPOSITORY_LEN).into()
}

/// `null` or a commit range.
#[must_use]
pub fn optional_commit_range() -> Schema {
    optional_text(MAX_COMMIT_RANGE_LEN).into()
}

/// `null` or a model name.
#[must_use]
pub fn optional_model() -> Schema {
    optional_text(MAX_MODEL_LEN).into()
}

fn tag() -> ObjectBuilder {
    text(MAX_TAG_LEN)
}

/// A changelog's tags.
#[must_use]
pub fn tags() -> Schema {
    ArrayBuilder::new()
        .items(tag())
        .max_items(Some(MAX_TAGS_PER_CHANGELOG))
        .description(Some(format!(
            "At most {MAX_TAGS_PER_CHANGELOG} tags of at most {MAX_TAG_LEN} characters; \
             stored lowercased and trimmed, sorted, without duplicates or empty ones."
        )))
        .into()
}

/// `null` (unchanged) or a changelog's tags.
#[must_use]
pub fn optional_tags() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(tag())
        .max_items(Some(MAX_TAGS_PER_CHANGELOG))
        .into()
}

/// An annotation's text.
#[must_use]
pub fn annotation() -> Schema {
    not_blank(MAX_ANNOTATION_LEN).into()
}

/// An API key's name.
#[must_use]
pub fn key_name() -> Schema {
    not_blank(MAX_KEY_NAME_CHARS).into()
}

/// A username.
#[must_use]
pub fn username() -> Schema {
    string()
        .pattern(Some("^[A-Za-z0-9._-]{3,64}$"))
        .min_length(Some(3))
        .max_length(Some(64))
        .into()
}

/// Characters an e-mail address's parts cannot hold: `@`, control characters and whitespace.
const NOT_IN_ADDRESS: &str =
    r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// An e-mail address as the server checks it, after trimming whitespace: one `@`, no control
/// character or whitespace, and a domain with a dot that neither starts nor ends it.
#[must_use]
pub fn email() -> Schema {
    let part = format!("[^{NOT_IN_ADDRESS}]");
    let edge = format!("[^.{NOT_IN_ADDRESS}]");
    string()
        .pattern(Some(format!(
            "^[{WHITESPACE}]*{part}+@{edge}{part}*\\.{part}*{edge}[{WHITESPACE}]*$"
        )))
        .max_length(Some(MAX_EMAIL_CHARS))
        .into()
}

/// `null` or any text.
#[must_use]
pub fn nullable_text(description: &str) -> ObjectBuilder {
    nullable_string().description(Some(description))
}

/// A password: its length; the other rules (5 different characters, not the username or the
/// address) are in the description.
#[must_use]
pub fn password() -> Schema {
    string()
        .min_length(Some(MIN_PASSWORD_CHARS))
        .max_length(Some(MAX_PASSWORD_CHARS))
        .into()
}

/// A revision number.
#[must_use]
pub fn revision() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .into()
}

/// `If-Match`: an entity tag of the changelog (its revision, quoted).
#[must_use]
pub fn if_match() -> Schema {
    string()
        .pattern(Some(r#"^(W/)?"[0-9]{1,18}"$"#))
        .description(Some(
            "The ETag of the revision the update is based on, like \"3\"",
        ))
        .into()
}

/// The page size of a listing.
#[must_use]
pub fn page_size() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE_SIZE))
        .into()
}

/// A date (`YYYY-MM-DD`) or an RFC 3339 date-time.
#[must_use]
pub fn date_or_time() -> Schema {
    AnyOfBuilder::new()
        .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .into()
}

/// A comma-separated tag filter.
#[must_use]
pub fn tag_filter() -> Schema {
    let max_more = changelog_core::store::limits::MAX_QUERY_TAGS - 1;
    string()
        .pattern(Some(format!(
            r"^[^\x00,]{{0,{MAX_TAG_LEN}}}(,[^\x00,]{{0,{MAX_TAG_LEN}}}){{0,{max_more}}}$"
        )))
        .into()
}

/// Search words.
#[must_use]
pub fn search() -> Schema {
    text(MAX_SEARCH_LEN)
        .description(Some(format!(
            "Words (runs of letters and digits) that must all occur in the title or content; \
             at most {MAX_SEARCH_TERMS} words and {MAX_SEARCH_LEN} characters."
        )))
        .into()
}

/// `null` or a date-time in the future.
#[must_use]
pub fn future_time() -> Schema {
    nullable_string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .into()
}

/// A `const` string.
#[must_use]
pub fn constant(value: &str) -> Schema {
    string().enum_values(Some([value])).into()
}

/// A JSON object of any shape, or `null`.
#[must_use]
pub fn any_object_or_null() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .into()
}

/// A release version (a query filter).
#[must_use]
pub fn version() -> Schema {
    text(MAX_VERSION_LEN).into()
}

/// A repository (a query filter).
#[must_use]
pub fn repository() -> Schema {
    text(MAX_REPOSITORY_LEN).into()
}

/// `null` or a sampling temperature.
#[must_use]
pub fn temperature() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Float)))
        .minimum(Some(f64::from(*TEMPERATURES.start())))
        .maximum(Some(f64::from(*TEMPERATURES.end())))
        .into()
}

/// `null` or the name of a style.
#[must_use]
pub fn style() -> Schema {
    nullable_string()
        .enum_values(Some(
            Style::ALL
                .iter()
                .map(|style| Some(style.name()))
                .chain([None]),
        ))
        .into()
}

/// `provider` of a generation request: `none`, or the name of a provider a server may offer.
pub fn provider() -> Schema {
    nullable_string()
        .enum_values(Some(
            ["none", "simulated", "openai", "anthropic"]
                .into_iter()
                .map(Some)
                .chain([None]),
        ))
        .into()
}
