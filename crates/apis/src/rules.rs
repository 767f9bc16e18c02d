//! The rules of DIGG's REST API profile as the lint checks them: id, level (SKALL → error, BÖR → warning),
//! title and a one-line hint — the table every finding takes its level and hint from.

use serde::Serialize;
use utoipa::ToSchema;

/// SKALL (MUST) is an error, BÖR (SHOULD) a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LintLevel)]
pub enum Level {
    Error,
    Warning,
}

/// A rule of the profile as the lint checks it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    pub hint: &'static str,
}

const fn rule(id: &'static str, level: Level, title: &'static str, hint: &'static str) -> Rule {
    Rule { id, level, title, hint }
}

use Level::{Error as E, Warning as W};

/// Every rule the lint checks.
pub const RULES: &[Rule] = &[
    rule(
        "UFN.01",
        W,
        "URLs follow /{api}/v{major}/{resource}/{id}",
        "Start each path (with the server's path) with the API's name and its major version: /orders/v1/orders/{id}.",
    ),
    rule(
        "UFN.02",
        E,
        "Servers are reached over HTTPS on port 443",
        "Give every server URL as https:// without another port (a development server on localhost is exempt).",
    ),
    rule(
        "UFN.05",
        W,
        "URLs are at most 2048 characters",
        "Shorten the path; move long filters into a POST search body.",
    ),
    rule(
        "UFN.07",
        E,
        "Paths use only a–z, 0–9, '-', '.' and '~'",
        "Spell path segments in lowercase ASCII letters, digits and hyphens.",
    ),
    rule(
        "UFN.08",
        E,
        "Words in a path are separated by '-'",
        "Write words as kebab-case: /order-lines, not /orderLines.",
    ),
    rule("UFN.09", E, "No space or '_' in a path", "Replace spaces and underscores with hyphens."),
    rule(
        "RES.06",
        E,
        "Resource names are lowercase letters, digits and hyphens",
        "Name resources in lowercase kebab-case; path parameters are exempt.",
    ),
    rule(
        "RES.02",
        W,
        "No personal identity numbers as parameters",
        "Send identity numbers in a request body (POST search), never as pnr/personnummer/ssn parameters.",
    ),
    rule(
        "VER.05",
        W,
        "Only the major version is in the URL, as v{n}",
        "Use /v2/ in the path; minor and patch versions belong in info.version.",
    ),
    rule(
        "VER.06",
        E,
        "Each API has /api-info with its name, version, release date and status",
        "Add GET {api root}/api-info and info.x-api-released (a date) and info.x-api-status.",
    ),
    rule(
        "FEL.01",
        E,
        "Problems follow RFC 9457",
        "Give problem responses a schema with type, title, status, detail and instance.",
    ),
    rule(
        "FEL.02",
        E,
        "Error responses are application/problem+json",
        "Describe every 4xx, 5xx and default response with content application/problem+json.",
    ),
    rule(
        "FNS.01",
        E,
        "One naming convention for query parameters",
        "Name every query parameter in camelCase or every one in snake_case, not both.",
    ),
    rule("FNS.03", E, "Query parameters start with a letter", "Rename the parameter so that it starts with a letter."),
    rule(
        "FNS.05",
        W,
        "Search parameters are optional",
        "Make query parameters of a GET optional (required: false) and document the default.",
    ),
    rule(
        "FNS.06",
        W,
        "Query parameter names are URL-safe",
        "Use only letters, digits, '-', '.', '_' and '~' in parameter names.",
    ),
    rule("FNS.07", E, "Paging uses limit with page or offset", "Add a limit query parameter beside page/offset."),
    rule("FNS.08", E, "page starts at 1", "Give the page parameter's schema minimum: 1."),
    rule("FNS.09", W, "limit defaults to 20", "Give the limit parameter's schema default: 20."),
    rule(
        "DOT.01",
        E,
        "Dates and times are RFC 3339",
        "Use format date-time with examples like 2026-12-07T08:00:00Z (format date: 2026-12-07).",
    ),
    rule("AME.01", W, "Bodies are JSON", "Offer application/json (or a +json type) for request and response bodies."),
    rule(
        "AME.04",
        E,
        "One naming convention for fields",
        "Name every field in camelCase or every one in snake_case, not both.",
    ),
    rule(
        "AME.07",
        W,
        "Field names are alphanumeric ('_' allowed)",
        "Rename the field using letters, digits and '_' only.",
    ),
    rule("ARQ.01", W, "Text is UTF-8", "Leave out charset or give charset=utf-8."),
    rule("ARQ.05", E, "No payload in headers", "Move structured data from the header into the body."),
    rule(
        "FOR.02",
        E,
        "A GET takes no body",
        "Remove the request body from the GET, or make the operation a POST search.",
    ),
    rule("DOK.01", W, "External documentation is linked", "Add externalDocs with a description and a url."),
    rule(
        "DOK.03",
        E,
        "info has title, version, description, contact and license",
        "Fill info.title, info.version, info.description, info.contact{name,url,email} and info.license{name,url}.",
    ),
    rule(
        "DOK.07",
        W,
        "The description says what the API is for",
        "Write a few sentences in info.description: what the API offers and for whom.",
    ),
    rule(
        "DOK.08",
        E,
        "The service level is documented",
        "Add info.x-sla{availability,responseTime,support}, info.termsOfService, or externalDocs about the SLA.",
    ),
    rule(
        "DOK.09",
        E,
        "Known limitations are documented",
        "Add info.x-limitations (say 'none known' when there are none).",
    ),
    rule("DOK.11", E, "info.description is not blank", "Describe the API in info.description."),
    rule(
        "DOK.15",
        E,
        "Requests and responses have complete examples",
        "Add an example (or examples) to every application/json response and every non-GET request body.",
    ),
    rule("DOK.17", W, "The document uses the latest OpenAPI version", "Move the document to OpenAPI 3.1."),
    rule("DOK.19", E, "Every operation has a description", "Add a description to the operation."),
    rule("DOK.20", E, "Every response is described", "Give every response code a non-blank description."),
    rule("SAK.09", E, "No Basic or Digest authentication", "Use OAuth 2.0 bearer tokens (or mutual TLS) instead."),
    rule(
        "SAK.10",
        E,
        "HTTP authentication is Authorization: Bearer",
        "Declare http security schemes with scheme: bearer.",
    ),
    rule("SAK.15", E, "API keys are sent in a header", "Declare apiKey schemes with in: header."),
    rule("SAK.16", E, "API keys never go in the URL", "Move the apiKey from the query string to a header."),
    rule("SAK.18", W, "Authorisation uses OAuth 2.0", "Declare an oauth2, openIdConnect or mutualTLS security scheme."),
    rule(
        "SPA.02",
        E,
        "Operations accept traceparent",
        "Declare a traceparent header parameter on every get, put, post, delete and patch operation.",
    ),
    rule("SPA.04", W, "Responses return traceparent", "Declare headers.traceparent on every response."),
    rule(
        "MOG.01",
        E,
        "Richardson level 2: resources, HTTP methods, status codes",
        "Name resources with nouns (not /getOrder, /create) and give each operation a specific success status, not only default.",
    ),
    rule(
        "MOG.02",
        W,
        "Richardson level 3: responses link onwards",
        "Return links (a links/_links field or OpenAPI response links) to related resources.",
    ),
];

/// The rule with `id`.
pub fn rule_of(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}
