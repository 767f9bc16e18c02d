//! Who may call a route: every route is added with its [`Caller`] (`Routes::get(path, caller,
//! handler)` …), so a route cannot exist without saying who may call it. One `authorize` layer looks the
//! matched route up before the handler runs: an undeclared route is refused (500, logged); a declared
//! caller that the edge can check — the operator, a member system by access token, a member node by
//! certificate, a registrant — is checked here, its refusal worded and logged by the one extractor of
//! that kind, and the checked caller handed to the handler in the request's extensions (the extractors
//! read it from there, so nothing is checked twice). The OpenAPI document's `security` and its 401/403
//! responses come from the same declarations (`openapi::document`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, on};
use axum::{Router, routing::MethodFilter};

use crate::AppState;
use crate::problem::ApiError;

/// Who may call one route (method + path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Anyone.
    Public,
    /// Anyone; the operator sees more, and a bearer that is not the operator's is refused.
    PublicOrOperator,
    /// The operator: a person at LoA 3 whom the decision point lets `operate` the API, or the bootstrap
    /// operator token.
    Operator,
    /// A member system with an access token from /identity/v1/token (certificate-bound ones over the
    /// node listener with that certificate).
    MemberSystem,
    /// A member node by its federation certificate, on the node listener.
    MemberNode,
    /// The operator, a member node or a member system (the address registry's registrants).
    Registrant,
    /// A member of the federation: its system with an access token, or its node by its certificate on
    /// the node listener (Mina ärenden's keepers of cases).
    Member,
    /// The operator's portal page: the operator token in the form or an operator person's session,
    /// checked by the page (a wrong token is shown on the page and recorded, not answered 401).
    OperatorPage,
    /// A person with a portal session: on an API route at LoA `n` or higher and let `use` the API by the
    /// decision point; on a portal page with a session (none: to the login at LoA `n`), the page showing
    /// a weaker one what it needs. Checked by `authorize`; the handler takes `auth::Person`.
    Person(u8),
    /// An OAuth / OpenID Connect protocol endpoint that authenticates its client as its protocol says
    /// (the token endpoint, the test eID), answering with that protocol's errors.
    Protocol,
    /// On a member node's local API: one of the organisation's own systems, with the node token.
    LocalSystem,
}

impl Caller {
    /// The OpenAPI security requirements of an operation with this caller (`[]`: none).
    pub fn security(self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Caller::Public | Caller::Person(_) | Caller::Protocol | Caller::OperatorPage => json!([]),
            Caller::PublicOrOperator => json!([{}, {"operatorToken": []}]),
            Caller::Operator => json!([{"operatorToken": []}]),
            Caller::MemberSystem => json!([{"accessToken": []}]),
            Caller::MemberNode => json!([{"nodeCertificate": []}]),
            Caller::Registrant => json!([{"operatorToken": []}, {"accessToken": []}, {"nodeCertificate": []}]),
            Caller::Member => json!([{"accessToken": []}, {"nodeCertificate": []}]),
            Caller::LocalSystem => json!([{"nodeToken": []}]),
        }
    }

    /// What the 401 answer of such an operation says, if it has one.
    pub fn unauthenticated(self) -> Option<&'static str> {
        match self {
            Caller::Public | Caller::PublicOrOperator | Caller::Protocol | Caller::OperatorPage => None,
            Caller::Operator => {
                Some("No operator session or token was sent, or it is not valid; the attempt is recorded")
            }
            Caller::MemberSystem => Some("No valid access token; the attempt is recorded"),
            Caller::MemberNode => Some("Not called on the node listener with a member's federation certificate"),
            Caller::Registrant => {
                Some("No operator token, access token or member certificate; the attempt is recorded")
            }
            Caller::Member => Some("No access token and no member certificate; the attempt is recorded"),
            Caller::Person(_) => Some("No portal session: log in at /login"),
            Caller::LocalSystem => Some("No node token (DATA_DIR/node.token) as `Authorization: Bearer …`"),
        }
    }
}

/// One declared route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub method: Method,
    pub path: String,
    pub caller: Caller,
}

/// What checks the declared callers of a listener's routes: the central server's state, or a member
/// node's. One implementation per kind of server, so each decides in one place.
pub trait Authorizer: Clone + Send + Sync + 'static {
    /// Check `caller` (one that is [`checked here`](Caller::checked_here)) for this request: on success
    /// what the check found is in the request's extensions for the handler; otherwise the answer, with
    /// the refusal worded and recorded by the check.
    fn check(
        &self,
        caller: Caller,
        parts: &mut Parts,
    ) -> impl std::future::Future<Output = Result<(), Response>> + Send;
}

impl Authorizer for AppState {
    async fn check(&self, caller: Caller, parts: &mut Parts) -> Result<(), Response> {
        let checked = match caller {
            Caller::PublicOrOperator => remember::<crate::auth::MaybeOperator, _>(parts, self).await,
            Caller::Operator => remember::<crate::auth::Operator, _>(parts, self).await,
            Caller::MemberSystem => remember::<crate::auth::ApiCaller, _>(parts, self).await,
            Caller::MemberNode => remember::<crate::mtls::Node, _>(parts, self).await,
            Caller::Registrant => remember::<crate::blocks::addresses::api::Registrant, _>(parts, self).await,
            Caller::Member => remember::<crate::auth::MemberOrganisation, _>(parts, self).await,
            Caller::Person(loa) => {
                let person = crate::auth::person(parts, self, ena_identity::loa::Loa(loa)).await?;
                parts.extensions.insert(person);
                Ok(())
            }
            Caller::LocalSystem => Err(ApiError::internal(&"a node's caller was declared on the central server")),
            Caller::Public | Caller::Protocol | Caller::OperatorPage => Ok(()),
        };
        checked.map_err(IntoResponse::into_response)
    }
}

/// A block's routes with their declarations and, for its API routes, their OpenAPI operations. `S` is
/// the state of the server they are served by (the central server's, or a member node's).
pub struct Routes<S = AppState> {
    router: Router<S>,
    declared: Vec<Declared>,
    /// The operations of the routes added with [`Routes::api`], from their handlers' `#[utoipa::path]`.
    paths: utoipa::openapi::path::Paths,
    /// The schemas those operations name.
    schemas: Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Routes<S> {
        Routes { router: Router::new(), declared: Vec::new(), paths: Default::default(), schemas: Vec::new() }
    }
}

macro_rules! method {
    ($name:ident, $filter:ident, $method:ident) => {
        pub fn $name<H, T>(self, path: &'static str, caller: Caller, handler: H) -> Routes<S>
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.add(Method::$method, path, caller, on(MethodFilter::$filter, handler))
        }
    };
}

impl<S: Authorizer> Routes<S> {
    pub fn new() -> Routes<S> {
        Routes::default()
    }

    method!(get, GET, GET);
    method!(post, POST, POST);
    method!(put, PUT, PUT);
    method!(delete, DELETE, DELETE);

    /// An API route: `utoipa_axum::routes!(handler)`. Its path and method are the ones the handler's
    /// `#[utoipa::path]` documents, so the router and the OpenAPI document cannot disagree; the
    /// operation goes into this block's part of the document.
    pub fn api(
        mut self,
        caller: Caller,
        (schemas, paths, route): utoipa_axum::router::UtoipaMethodRouter<S>,
    ) -> Routes<S> {
        let mut routed = None;
        for (path, item) in &paths.paths {
            assert!(routed.is_none() || routed == Some(path), "one handler per Routes::api ({path})");
            routed = Some(path);
            let documented = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in documented {
                if operation.is_some() {
                    self.declare(method, path, caller);
                }
            }
        }
        let path = routed.expect("the handler has a #[utoipa::path]").clone();
        self.router = self.router.route(&path, route);
        self.paths.merge(paths);
        self.schemas.extend(schemas);
        self
    }

    /// A route for every method (a proxy: the node's synchronous calls), declared for each.
    pub fn any<H, T>(mut self, path: &'static str, caller: Caller, handler: H) -> Routes<S>
    where
        H: Handler<T, S>,
        T: 'static,
    {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS, Method::GET] {
            self.declare(method, path, caller);
        }
        self.router = self.router.route(path, axum::routing::any(handler));
        self
    }

    fn add(mut self, method: Method, path: &'static str, caller: Caller, route: MethodRouter<S>) -> Routes<S> {
        self.declare(method, path, caller);
        self.router = self.router.route(path, route);
        self
    }

    fn declare(&mut self, method: Method, path: &str, caller: Caller) {
        // A GET route answers HEAD too (axum's `get`): declared alike.
        if method == Method::GET {
            self.declared.push(Declared { method: Method::HEAD, path: path.to_owned(), caller });
        }
        self.declared.push(Declared { method, path: path.to_owned(), caller });
    }

    pub fn merge(mut self, other: Routes<S>) -> Routes<S> {
        self.router = self.router.merge(other.router);
        self.declared.extend(other.declared);
        self.paths.merge(other.paths);
        self.schemas.extend(other.schemas);
        self
    }

    /// The documented operations and the schemas they name, for the OpenAPI document.
    pub fn documented(
        &self,
    ) -> (&utoipa::openapi::path::Paths, &[(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)]) {
        (&self.paths, &self.schemas)
    }

    pub fn declared(&self) -> &[Declared] {
        &self.declared
    }

    /// The router, with `authorize` deciding before every handler.
    pub fn into_router(self, state: &S) -> Router<S> {
        let mut table: HashMap<String, Vec<(Method, Caller)>> = HashMap::new();
        for d in &self.declared {
            table.entry(d.path.clone()).or_default().push((d.method.clone(), d.caller));
        }
        let table: Table = Arc::new(table);
        self.router.route_layer(Authorize { state: state.clone(), table })
    }
}

/// Route template → its methods and their callers.
type Table = Arc<HashMap<String, Vec<(Method, Caller)>>>;

/// The route layer that decides, before the handler runs, whether the request's caller is the route's
/// declared caller. Written by hand rather than with `middleware::from_fn`: a public route (most of
/// the traffic a deployment serves, `/healthz` included) then goes straight to its handler, with no
/// boxed future and no clone of the state.
#[derive(Clone)]
struct Authorize<A> {
    state: A,
    table: Table,
}

impl<S, A: Clone> tower::Layer<S> for Authorize<A> {
    type Service = Authorized<S, A>;
    fn layer(&self, inner: S) -> Authorized<S, A> {
        Authorized { inner, state: self.state.clone(), table: self.table.clone() }
    }
}

#[derive(Clone)]
struct Authorized<S, A> {
    inner: S,
    state: A,
    table: Table,
}

type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, A> tower::Service<Request> for Authorized<S, A>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Authorizer,
{
    type Response = Response;
    type Error = Infallible;
    type Future = crate::trace::TaggedFuture<Authorizing<S::Future>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// The only route layer (each one boxes the route again): it also learns the matched route for the
    /// edge's log span and metrics.
    fn call(&mut self, request: Request) -> Self::Future {
        let route = crate::trace::matched_route(&request);
        crate::trace::TaggedFuture::new(self.decide(request, route.as_ref()), route)
    }
}

impl<S, A> Authorized<S, A>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Authorizer,
{
    fn decide(&mut self, request: Request, route: Option<&MatchedPath>) -> Authorizing<S::Future> {
        let answer = |response: Response| -> Boxed { Box::pin(std::future::ready(Ok(response))) };
        let route = route.map_or("", MatchedPath::as_str);
        let Some(methods) = self.table.get(route) else {
            tracing::error!(method = %request.method(), route, "a route without a declared caller was called; refused");
            return Authorizing::Checked {
                inner: answer(ApiError::internal(&format!("{route} declares no caller")).into_response()),
            };
        };
        // A method the route does not have goes on: the router answers 405 with the methods it has.
        let caller = methods.iter().find(|(m, _)| m == request.method()).map(|(_, c)| *c);
        let Some(caller) = caller.filter(|c| c.checked_here()) else {
            return Authorizing::Straight { inner: self.inner.call(request) };
        };
        let state = self.state.clone();
        // The service that was polled ready is the one that is called (tower's contract).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Authorizing::Checked {
            inner: Box::pin(async move {
                let (mut parts, body) = request.into_parts();
                if let Err(answer) = state.check(caller, &mut parts).await {
                    return Ok(answer);
                }
                inner.call(Request::from_parts(parts, body)).await
            }),
        }
    }
}
pin_project_lite::pin_project! {
    /// A public route's handler future as it is, or the caller check and then the handler, boxed.
    #[project = AuthorizingProjection]
    enum Authorizing<F> {
        Straight { #[pin] inner: F },
        Checked { inner: Boxed },
    }
}

impl<F: std::future::Future<Output = Result<Response, Infallible>>> std::future::Future for Authorizing<F> {
    type Output = Result<Response, Infallible>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.project() {
            AuthorizingProjection::Straight { inner } => inner.poll(cx),
            AuthorizingProjection::Checked { inner } => inner.as_mut().poll(cx),
        }
    }
}

impl Caller {
    /// Is this caller checked by `authorize` (the others by their handler or protocol, or not at all)?
    pub fn checked_here(self) -> bool {
        !matches!(self, Caller::Public | Caller::Protocol | Caller::OperatorPage)
    }
}

/// Check the caller with its extractor and keep the result for the handler.
pub async fn remember<C, S>(parts: &mut Parts, state: &S) -> Result<(), ApiError>
where
    S: Send + Sync,
    C: FromRequestParts<S, Rejection = ApiError> + Clone + Send + Sync + 'static,
{
    let caller = C::from_request_parts(parts, state).await?;
    parts.extensions.insert(caller);
    Ok(())
}

/// The caller `authorize` already checked for this request, if it did.
pub fn checked<C: Clone + Send + Sync + 'static>(parts: &Parts) -> Option<C> {
    parts.extensions.get::<C>().cloned()
}
