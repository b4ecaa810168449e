//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
//!
//! It is built from the same registrations as the router: every `/api/v1` route is added to
//! an [`ApiRouter`] as an [`Op`] — its description and its handler together (utoipa-axum's
//! `OpenApiRouter` keeps the router and the document side by side). A documented path
//! without a route therefore cannot exist; the other direction (a route added with a plain
//! `.route`, bypassing the document) is caught by the `openapi` tests, which check every
//! route the test suite calls against the document, and by the property-based run against
//! the live server in `./build.sh test` (`tests/openapi/`).
//!
//! Descriptions are built in code rather than with `#[utoipa::path]` because most routes
//! are generic (one set of handlers for every record type, one document tree per record
//! kind), which the attribute cannot describe. What every operation shares is added once,
//! by [`finish`]: the bearer-token requirement and the error answers every route can give
//! (401, 429, 500, 503 and, for those with a body, 400/408/413/415/422), all as
//! [`ErrorBody`].

use threadline_domain::api::ErrorBody;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, Header, HeaderBuilder, InfoBuilder, OpenApi, PathItem, Ref, RefOr,
    Required, Response, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::routes::records::{self as record_http, collection, Editable, DEFAULT_LIMIT, MAX_LIMIT};
use crate::state::AppState;

/// The (method, path template) of every operation of `doc`, e.g. `("GET", "/api/v1/me")`.
pub fn operations(doc: &OpenApi) -> std::collections::HashSet<(String, String)> {
    let mut out = std::collections::HashSet::new();
    for (path, item) in doc.paths.paths.iter() {
        let mut item = item.clone();
        for (method, _) in operations_mut(&mut item) {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// Debug builds (so every test) answer 500 for a request that a route serves but the
/// document does not describe: a route added around [`Op::route`] fails the suite.
pub async fn require_documented(
    documented: std::sync::Arc<std::collections::HashSet<(String, String)>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let matched = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string());
    if let Some(path) = matched {
        let key = (request.method().as_str().to_string(), path);
        if !documented.contains(&key) {
            let message = format!(
                "{} {} is routed but not in the OpenAPI document",
                key.0, key.1
            );
            tracing::error!("{message}");
            return crate::error::ApiError::internal(message).into_response();
        }
    }
    next.run(request).await
}

/// A router of `/api/v1` routes that carries their description.
pub type ApiRouter = OpenApiRouter<AppState>;

/// Where the document is served (no token needed: it describes the API, it holds no data).
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// The paths that need no token: the document, and the extension's sign-in (its one-time
/// code is the credential).
const PUBLIC_PATHS: [&str; 2] = [DOCUMENT_PATH, crate::routes::extension::TOKEN_PATH];

/// Name of the security scheme every operation but the document's own requires.
const BEARER: &str = "bearer";

/// Titles the document, adds the security scheme and the answers every operation shares.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("Threadline API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The Threadline server's JSON API: the CRM records, their documents, and what the \
             Gmail tracking bar asks. Every request needs `Authorization: Bearer <token>` (a \
             personal API token). Errors are JSON with a stable `code` and, when one field is at \
             fault, its name in `field`. Changes to an existing record need `If-Match` with the \
             record's ETag (428 without it, 412 when it is stale).",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Components::new);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A personal API token (`threadline-server token create`).",
                ))
                .build(),
        ),
    );
    let mut schemas = Vec::new();
    collect_schemas::<ErrorBody>(&mut schemas);
    components.schemas.extend(schemas);

    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC_PATHS.contains(&path.as_str());
        for (method, op) in operations_mut(item) {
            if method != "get" {
                add_error(
                    op,
                    "507",
                    "The server's storage is full (`storage_full`): nothing was changed.",
                );
            }
            if !public {
                op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                add_error(
                    op,
                    "401",
                    "Missing, unknown or revoked token (`unauthorized`).",
                );
            }
            if op.request_body.is_some() {
                add_error(op, "400", "The body is not JSON (`invalid_json`), or a header is malformed (`invalid_header`).");
                add_error(
                    op,
                    "408",
                    "The body stopped arriving before it was complete (`request_timeout`); \
                     the connection is closed.",
                );
                add_error(
                    op,
                    "413",
                    "The body is over the size limit (`payload_too_large`).",
                );
                add_error(
                    op,
                    "415",
                    "The body's Content-Type is not the one documented (`unsupported_media_type`).",
                );
                add_error(
                    op,
                    "422",
                    "The body has the wrong shape (`invalid_body`), or a field's value is not \
                     acceptable (`invalid_field`; `field` names it).",
                );
            }
            add_error(
                op,
                "500",
                "A bug or an I/O failure (`internal`); the details are in the server log.",
            );
            op.responses
                .responses
                .entry("429".to_string())
                .or_insert_with(|| {
                    let mut response = error_response(
                        "Too many requests with this token, or from this address without one \
                         (`rate_limited`); retry after `Retry-After` seconds.",
                    );
                    response
                        .headers
                        .insert("Retry-After".into(), retry_after_header());
                    response.into()
                });
            add_error(
                op,
                "503",
                "The database is busy (`unavailable`), or takes no changes right now \
                 (`read_only`); retry (`Retry-After`).",
            );
        }
    }
    doc
}

/// The document as JSON text.
///
/// utoipa 5.5 writes a Link object's fields in snake case (`operation_id`); OpenAPI names
/// them `operationId`, `operationRef`, `requestBody`, and tools ignore the others. Renamed
/// here until utoipa does it.
pub fn to_json(doc: &OpenApi) -> String {
    fn fix_links(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                    for link in links.values_mut() {
                        if let serde_json::Value::Object(link) = link {
                            for (from, to) in [
                                ("operation_id", "operationId"),
                                ("operation_ref", "operationRef"),
                                ("request_body", "requestBody"),
                            ] {
                                if let Some(v) = link.remove(from) {
                                    link.insert(to.to_string(), v);
                                }
                            }
                        }
                    }
                }
                map.values_mut().for_each(fix_links);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(fix_links),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(doc).expect("the OpenAPI document serialises");
    fix_links(&mut value);
    serde_json::to_string_pretty(&value).expect("JSON serialises")
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
}

/// Adds the error answer `status` to `op` unless it has one already.
fn add_error(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| error_response(description).into());
}

/// An error answer: an [`ErrorBody`].
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(schema_ref::<ErrorBody>()))
                .build(),
        )
        .build()
}

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// `T`'s schema and those it refers to.
fn collect_schemas<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

fn retry_after_header() -> Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]+$")),
        )
        .description(Some("Seconds to wait before the next request."))
        .build()
}

fn etag_header() -> Header {
    HeaderBuilder::new()
        .schema(String::schema())
        .description(Some(
            "The record's version as a strong ETag (`\"3\"`): send it back in If-Match.",
        ))
        .build()
}

/// A UUID, or empty (which is as if the parameter were absent).
pub fn optional_uuid_param_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(
        "^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    ))
}

/// A string in UUID format.
pub fn uuid_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

/// One operation being described: what [`ApiRouter::routes`] takes once [`Op::route`] has
/// joined it to its handler.
pub struct Op {
    builder: OperationBuilder,
    schemas: Vec<(String, RefOr<Schema>)>,
    /// Links to add to answers: (status, name, link).
    links: Vec<(String, String, utoipa::openapi::link::Link)>,
}

impl Op {
    /// `id` is the operation id (unique in the document); `tag` groups it (its collection).
    pub fn new(tag: &str, id: &str, summary: &str) -> Op {
        Op {
            builder: OperationBuilder::new()
                .tag(tag)
                .operation_id(Some(id))
                .summary(Some(summary)),
            schemas: Vec::new(),
            links: Vec::new(),
        }
    }

    pub fn description(mut self, text: &str) -> Op {
        self.builder = self.builder.description(Some(text));
        self
    }

    fn parameter(mut self, parameter: Parameter) -> Op {
        self.builder = self.builder.parameter(parameter);
        self
    }

    /// A path parameter holding a UUID.
    pub fn path_id(self, name: &str, description: &str) -> Op {
        self.path_param(name, description, uuid_schema())
    }

    /// A path parameter of any other `schema`.
    pub fn path_param(self, name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Op {
        self.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(schema))
                .build(),
        )
    }

    /// An optional query parameter.
    pub fn query(self, name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Op {
        self.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build(),
        )
    }

    /// `?limit=&cursor=` of a keyset-paginated list.
    pub fn paginated(self) -> Op {
        self.query(
            "limit",
            &format!("Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIMIT)),
        )
        .query(
            "cursor",
            "The `next_cursor` of the previous page.",
            String::schema(),
        )
    }

    /// `?include_deleted=`.
    pub fn include_deleted(self) -> Op {
        self.query(
            "include_deleted",
            "Also answer deleted records (their tombstones carry `deleted_at`).",
            bool::schema(),
        )
    }

    pub fn header(self, name: &str, required: bool, description: &str) -> Op {
        self.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(String::schema()))
                .build(),
        )
    }

    /// `If-Match` (required): the optimistic-concurrency check of every change.
    pub fn if_match(self) -> Op {
        self.parameter(
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "The ETag of the version being changed, as answered (428 without it, 412 when \
                     stale; `*` is refused: a blind overwrite is what the header prevents).",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r#"^(W/)?"[^"]+"$"#))))
                .build(),
        )
        .error("400", "If-Match is not an ETag as the server answered it (`invalid_header`).")
        .error("412", "If-Match names another version than the current one (`precondition_failed`): GET it again.")
        .error("428", "If-Match is missing (`precondition_required`).")
    }

    /// `Idempotency-Key` (optional): a retried request is answered what the first was.
    pub fn idempotency_key(self) -> Op {
        self.header(
            "Idempotency-Key",
            false,
            "Makes retries safe: the same key with the same body is answered what the first \
             request was (header `Idempotency-Replayed: true`); with another body, 422.",
        )
        .error("409", "The same Idempotency-Key is being processed right now (`idempotency_key_in_progress`).")
    }

    /// A JSON request body of type `T`.
    pub fn json_body<T: ToSchema>(mut self, description: &str) -> Op {
        collect_schemas::<T>(&mut self.schemas);
        self.body("application/json", description, schema_ref::<T>())
    }

    /// An optional JSON request body of type `T` (the request may have no body at all).
    pub fn optional_json_body<T: ToSchema>(mut self, description: &str) -> Op {
        collect_schemas::<T>(&mut self.schemas);
        self.request_body(
            "application/json",
            description,
            schema_ref::<T>(),
            Required::False,
        )
    }

    /// A request body of `content_type` with `schema`.
    pub fn body(
        self,
        content_type: &str,
        description: &str,
        schema: impl Into<RefOr<Schema>>,
    ) -> Op {
        self.request_body(content_type, description, schema, Required::True)
    }

    fn request_body(
        mut self,
        content_type: &str,
        description: &str,
        schema: impl Into<RefOr<Schema>>,
        required: Required,
    ) -> Op {
        self.builder = self.builder.request_body(Some(
            RequestBodyBuilder::new()
                .description(Some(description))
                .required(Some(required))
                .content(
                    content_type,
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .build(),
        ));
        self
    }

    /// A JSON answer of type `T`.
    pub fn json<T: ToSchema>(mut self, status: &str, description: &str) -> Op {
        collect_schemas::<T>(&mut self.schemas);
        self.answer(status, json_answer(description, schema_ref::<T>()))
    }

    /// A JSON answer of type `T` with the record's `ETag`.
    pub fn json_with_etag<T: ToSchema>(mut self, status: &str, description: &str) -> Op {
        collect_schemas::<T>(&mut self.schemas);
        let mut response = json_answer(description, schema_ref::<T>());
        response.headers.insert("ETag".into(), etag_header());
        self.answer(status, response)
    }

    /// A JSON page of `T`s: `{"items": [T], "next_cursor": "…"}`.
    pub fn page_of<T: ToSchema>(mut self, description: &str) -> Op {
        collect_schemas::<T>(&mut self.schemas);
        let name = format!("{}Page", T::name());
        let schema = ObjectBuilder::new()
            .property("items", ArrayBuilder::new().items(schema_ref::<T>()))
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "Give it back as `cursor` for the next page; absent on the last page.",
                    )),
            )
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .build();
        self.schemas
            .push((name.clone(), RefOr::T(Schema::Object(schema))));
        self.answer(
            "200",
            json_answer(description, RefOr::Ref(Ref::from_schema_name(name))),
        )
    }

    /// An answer without a body (`ETag` when `with_etag`).
    pub fn empty(self, status: &str, description: &str, with_etag: bool) -> Op {
        let mut response = ResponseBuilder::new().description(description);
        if with_etag {
            response = response.header("ETag", etag_header());
        }
        self.answer(status, response.build())
    }

    /// An answer with a body of `content_type` and `schema`.
    pub fn content(
        self,
        status: &str,
        description: &str,
        content_type: &str,
        schema: impl Into<RefOr<Schema>>,
    ) -> Op {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                content_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            )
            .build();
        self.answer(status, response)
    }

    /// An error answer ([`ErrorBody`]) particular to this operation.
    pub fn error(self, status: &str, description: &str) -> Op {
        self.answer(status, error_response(description))
    }

    /// 404 for a record of `noun` that is not in the caller's organisation (or was deleted).
    pub fn not_found(self, noun: &str) -> Op {
        self.error(
            "404",
            &format!(
                "No such {noun} in the caller's organisation (`not_found`), or it was deleted."
            ),
        )
    }

    /// 400 for a query parameter that is not acceptable.
    pub fn bad_query(self) -> Op {
        self.error(
            "400",
            "A query parameter is not acceptable (`invalid_query`; `field` names it).",
        )
    }

    /// Links from the answer `status` (a record) to the operations on that record, so
    /// that clients and test generators know where its `id` (the targets' `path_param`)
    /// and `ETag` go next. Each target is `(operation id, whether it takes If-Match)`.
    pub fn links_to_record(
        mut self,
        status: &str,
        path_param: &str,
        targets: &[(String, bool)],
    ) -> Op {
        use utoipa::openapi::link::LinkBuilder;
        for (operation_id, with_if_match) in targets {
            let mut link = LinkBuilder::new()
                .operation_id(operation_id)
                .parameter(format!("path.{path_param}"), "$response.body#/id");
            if *with_if_match {
                link = link.parameter("header.If-Match", "$response.header.ETag");
            }
            self.links
                .push((status.to_string(), operation_id.to_string(), link.build()));
        }
        self
    }

    fn answer(mut self, status: &str, response: Response) -> Op {
        self.builder = self.builder.response(status, response);
        self
    }

    /// The description alone, for a route that is added to the router otherwise.
    pub fn describe(self, path: &str, http_method: HttpMethod) -> Paths {
        let mut paths = Paths::new();
        paths.add_path_operation(path, vec![http_method], self.build());
        paths
    }

    fn build(self) -> Operation {
        let mut operation = self.builder.build();
        for (status, name, link) in self.links {
            if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(&status) {
                response.links.insert(name, RefOr::T(link));
            }
        }
        operation
    }

    /// Joins the description to its handler at `path` (relative to `/api/v1`).
    pub fn route(
        mut self,
        path: &str,
        http_method: HttpMethod,
        handler: axum::routing::MethodRouter<AppState>,
    ) -> UtoipaMethodRouter<AppState> {
        let schemas = std::mem::take(&mut self.schemas);
        let mut paths = Paths::new();
        paths.add_path_operation(path, vec![http_method], self.build());
        (schemas, paths, handler)
    }
}

fn json_answer(description: &str, schema: RefOr<Schema>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// How a record type is described.
pub struct RecordDoc {
    /// The record in prose, singular (`company`, `tracked email`).
    pub noun: &'static str,
    /// What `q=` searches.
    pub search: &'static str,
}

/// The operations of a record type's generic handlers ([`crate::routes::records`]) but
/// create: list, get, PUT, PATCH and DELETE.
pub fn record_routes_but_create<T>(doc: &RecordDoc) -> ApiRouter
where
    T: Editable + ToSchema,
    T::Input: ToSchema,
{
    use axum::routing::{delete, get, patch, put};
    let tag = collection(T::KIND);
    let kind = T::KIND.as_str();
    let noun = doc.noun;
    let item = format!("/{tag}/{{id}}");
    let id = |op: Op| op.path_id("id", &format!("The {noun}'s id."));
    let list = Op::new(
        &tag,
        &format!("list_{}", T::KIND.table()),
        &format!("List {tag}"),
    )
    .description("In creation order, by keyset pages.")
    .paginated()
    .query("q", doc.search, String::schema())
    .include_deleted()
    .page_of::<T>("A page.")
    .bad_query();
    let get_one = id(Op::new(
        &tag,
        &format!("get_{kind}"),
        &format!("Get a {noun}"),
    ))
    .include_deleted()
    .header(
        "If-None-Match",
        false,
        "An ETag: 304 when the record is still at that version.",
    )
    .json_with_etag::<T>("200", &format!("The {noun}."))
    .empty("304", "Not modified since the If-None-Match version.", true)
    .not_found(noun)
    .bad_query();
    let replace = id(Op::new(
        &tag,
        &format!("replace_{kind}"),
        &format!("Replace a {noun}"),
    ))
    .if_match()
    .json_body::<T::Input>(&format!("The whole {noun}: a field left out is cleared."))
    .json_with_etag::<T>("200", &format!("The {noun} as stored."))
    .not_found(noun);
    let merge = id(Op::new(
        &tag,
        &format!("patch_{kind}"),
        &format!("Change some fields of a {noun}"),
    ))
    .if_match()
    .body(
        "application/json",
        &format!(
            "A JSON merge patch (RFC 7396) of the {noun}'s fields ({}): those given are \
                 changed, `null` clears one.",
            T::Input::name()
        ),
        ObjectBuilder::new().schema_type(Type::Object),
    )
    .json_with_etag::<T>("200", &format!("The {noun} as stored."))
    .not_found(noun);
    let remove = id(Op::new(
        &tag,
        &format!("delete_{kind}"),
        &format!("Delete a {noun}"),
    ))
    .description(
        "Soft: a tombstone stays, listed with `include_deleted=true` and in the changes feed.",
    )
    .if_match()
    .empty("204", "Deleted; the ETag is the tombstone's version.", true)
    .not_found(noun);
    ApiRouter::new()
        .routes(list.route(
            &format!("/{tag}"),
            HttpMethod::Get,
            get(record_http::list::<T>),
        ))
        .routes(get_one.route(&item, HttpMethod::Get, get(record_http::get::<T>)))
        .routes(replace.route(&item, HttpMethod::Put, put(record_http::replace::<T>)))
        .routes(merge.route(&item, HttpMethod::Patch, patch(record_http::patch::<T>)))
        .routes(remove.route(&item, HttpMethod::Delete, delete(record_http::delete::<T>)))
}

/// [`record_routes_but_create`] and the generic `POST /<collection>`.
pub fn record_routes<T>(doc: &RecordDoc) -> ApiRouter
where
    T: Editable + ToSchema,
    T::Input: ToSchema,
{
    let tag = collection(T::KIND);
    let noun = doc.noun;
    let create = Op::new(
        &tag,
        &format!("create_{}", T::KIND.as_str()),
        &format!("Create a {noun}"),
    )
    .json_body::<T::Input>(&format!("The new {noun}."))
    .json_with_etag::<T>(
        "201",
        &format!("The {noun} as stored (`Location` is its URL)."),
    )
    .links_to_record("201", "id", &record_links(T::KIND.as_str()));
    record_routes_but_create::<T>(doc).routes(create.route(
        &format!("/{tag}"),
        HttpMethod::Post,
        axum::routing::post(record_http::create::<T>),
    ))
}

/// The operations on one record of `kind` that its id (and ETag) lead to.
pub fn record_links(kind: &str) -> Vec<(String, bool)> {
    [
        ("get", false),
        ("replace", true),
        ("patch", true),
        ("delete", true),
    ]
    .into_iter()
    .map(|(verb, with_if_match)| (format!("{verb}_{kind}"), with_if_match))
    .collect()
}
