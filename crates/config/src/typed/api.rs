//! The API-shaping parts as validated: the `validate` policy (a JSON
//! Schema compiled once at load), version conditions, deprecation and
//! sunset dates, and the `aggregate` target.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};

use super::json_doc::BodyJson;
use super::Template;

/// A compiled JSON Schema (draft 7 or 2020-12, chosen by its `$schema`).
#[derive(Clone)]
pub struct JsonSchema {
    /// The validator, compiled once when the file was loaded.
    pub validator: Arc<jsonschema::Validator>,
    /// The same schema compiled for a body read in place ([`json_doc`]):
    /// the yes/no check of a body without building a `serde_json::Value`.
    ///
    /// [`json_doc`]: super::json_doc
    pub in_place: Arc<jsonschema::Validator<BodyJson>>,
    /// Where it came from (`inline` or the file), for `explain` and logs.
    pub source: String,
}

impl JsonSchema {
    /// Compiles `schema`, its draft from `draft`, else its `$schema`, else
    /// 2020-12; the error is the first the crate reports.
    pub fn compile(
        schema: &serde_json::Value,
        draft: Option<jsonschema::Draft>,
        source: String,
    ) -> Result<Self, jsonschema::ValidationError<'static>> {
        let (validator, in_place) = match draft {
            Some(d) => (
                jsonschema::options().with_draft(d).build(schema)?,
                jsonschema::options_for::<BodyJson>()
                    .with_draft(d)
                    .build(schema)?,
            ),
            None => (
                jsonschema::validator_for(schema)?,
                jsonschema::options_for::<BodyJson>().build(schema)?,
            ),
        };
        Ok(Self {
            validator: Arc::new(validator),
            in_place: Arc::new(in_place),
            source,
        })
    }
}

impl std::fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonSchema({})", self.source)
    }
}

/// How a refusal of the `validate` policy is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `{"error": "request validation failed", "violations": [...]}`.
    Json,
    /// `application/problem+json` (RFC 9457) with the violations as an extension.
    Problem,
}

/// What the `validate` policy checks requests against.
#[derive(Debug, Clone)]
pub enum ValidateAgainst {
    /// A JSON Schema for the body.
    Schema(JsonSchema),
    /// An OpenAPI document: operation, parameters and body.
    OpenApi(Box<OpenApi>),
}

/// The `validate` policy: requests checked against a JSON Schema or an
/// OpenAPI document.
#[derive(Debug, Clone)]
pub struct ValidatePolicy {
    /// What requests must satisfy.
    pub against: ValidateAgainst,
    /// How refusals are written.
    pub errors: ErrorFormat,
    /// Largest body read for validation; larger is 413. Also the most
    /// of an answer kept for checking (a larger answer is not checked).
    pub max_body: u64,
    /// Answers checked in report mode: logged and counted, never blocked.
    pub answers: Option<AnswerCheck>,
}

/// What the `validate` policy checks answers against (report mode).
#[derive(Debug, Clone)]
pub enum AnswerCheck {
    /// One schema for the body of every JSON answer.
    Schema(JsonSchema),
    /// The `responses` of the OpenAPI operation the request matched:
    /// status, declared headers, media type and JSON body.
    Operation,
}

/// The parts of an OpenAPI 3.0 / 3.1 document that requests are checked
/// against.
#[derive(Debug, Clone)]
pub struct OpenApi {
    /// Every operation (path template and method).
    pub operations: Vec<Operation>,
    /// A request matching no operation is passed on (else 404).
    pub pass_unknown: bool,
    /// The document's file, for `explain` and logs.
    pub source: String,
}

/// One operation of an OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Method (uppercase).
    pub method: Method,
    /// The path template as written (`/pets/{id}`).
    pub template: String,
    /// Its segments.
    pub segments: Vec<TemplateSegment>,
    /// Path, query and header parameters.
    pub parameters: Vec<Parameter>,
    /// The JSON request body, when the operation declares one.
    pub body: Option<RequestBodyRule>,
    /// Its `responses` (read only when answers are checked against them).
    pub responses: Vec<ResponseRule>,
}

/// Which answers a `responses` entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// One status code (`"404"`).
    Exact(u16),
    /// A class of codes (`"2XX"` is `Class(2)`).
    Class(u16),
    /// `default`: any code no other entry names.
    Default,
}

/// One `responses` entry of an operation.
#[derive(Debug, Clone)]
pub struct ResponseRule {
    /// The answers it is for.
    pub status: StatusMatch,
    /// Its declared media types (empty: the body is not checked).
    pub content: Vec<MediaRule>,
    /// Its declared header fields (`Content-Type` left out, as OpenAPI says).
    pub headers: Vec<Parameter>,
}

/// One media type of a response's `content`.
#[derive(Debug, Clone)]
pub struct MediaRule {
    /// The media range as written, lowercase (`application/json`, `image/*`).
    pub media_type: String,
    /// The body's schema, for JSON media types (`application/json`, `+json`).
    pub schema: Option<JsonSchema>,
}

/// A segment of an operation's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSegment {
    /// Text that must be equal.
    Literal(String),
    /// `{name}`: any non-empty segment, a path parameter.
    Param(String),
}

/// Where a parameter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// A path template variable.
    Path,
    /// A query parameter.
    Query,
    /// A header field.
    Header,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Name (a header's lowercase).
    pub name: String,
    /// Where it is sent.
    pub location: ParamIn,
    /// It must be present.
    pub required: bool,
    /// The schema its value must satisfy (a text that reads as a number
    /// or boolean is checked as one).
    pub schema: Option<JsonSchema>,
}

/// An operation's JSON request body.
#[derive(Debug, Clone)]
pub struct RequestBodyRule {
    /// A body must be sent.
    pub required: bool,
    /// The schema of `application/json` content.
    pub schema: Option<JsonSchema>,
}

/// Where a request names its API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// The first path segment, `v<version>` (`/v2/users` names `2`); the
    /// route's path condition is matched against the rest of the path.
    Path,
    /// A request header's value.
    Header(HeaderName),
    /// A query parameter's value.
    Query(String),
    /// A parameter of a media type in `Accept`
    /// (`application/vnd.example+json; version=2`).
    Accept(String),
}

/// A route's version condition.
#[derive(Debug, Clone)]
pub struct VersionMatch {
    /// The version this route serves.
    pub value: String,
    /// Where the request names it.
    pub from: VersionSource,
    /// Requests naming no version take this route.
    pub default: bool,
}

/// A date announced on a route's answers, with a link to read about it.
#[derive(Debug, Clone)]
pub struct LifecycleDate {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// Migration notes (`Link: <url>; rel="deprecation"` or `"sunset"`).
    pub link: Option<String>,
}

/// A route's deprecation (RFC 9745) and sunset (RFC 8594) announcements.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// When the route was (or will be) deprecated.
    pub deprecation: Option<LifecycleDate>,
    /// When the route stops answering.
    pub sunset: Option<LifecycleDate>,
}

/// How the answers of an aggregate's calls are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Each answer under its call's name.
    Keys,
    /// JSON objects merged recursively, in call order (later wins).
    Deep,
}

/// An `aggregate` target: several upstream calls answered as one JSON document.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// The calls, in file order; a call's `after` names an earlier one.
    pub calls: Vec<Call>,
    /// How answers are combined.
    pub merge: Merge,
    /// Most calls of one request in flight at once.
    pub max_concurrency: usize,
    /// Largest answer body read from one call; larger fails the call.
    pub max_body: u64,
}

/// One upstream call of an aggregate.
#[derive(Debug, Clone)]
pub struct Call {
    /// Name: its key in the merged answer, its `Server-Timing` entry.
    pub name: String,
    /// Index of the upstream in `Config::upstreams`.
    pub upstream: usize,
    /// Method sent.
    pub method: Method,
    /// Request target sent (path and query), in pieces.
    pub path: Vec<CallPart>,
    /// Header fields sent (templates).
    pub headers: Vec<(HeaderName, Template)>,
    /// Deadline of this call.
    pub timeout: Duration,
    /// A failure of this call fails the whole request (502).
    pub required: bool,
    /// Index of the call whose answer this one waits for.
    pub after: Option<usize>,
}

/// A piece of a call's path.
#[derive(Debug, Clone)]
pub enum CallPart {
    /// Text with request variables (`$http_x_user`, `$1`, ...).
    Text(Template),
    /// `{NAME:/pointer}`: a value from an earlier call's JSON answer.
    Answer {
        /// Index of the call.
        call: usize,
        /// JSON Pointer into its answer.
        pointer: String,
    },
}
