//! The JSON API under `/api/v1` (docs/openapi.yaml), and the queue actions the web page
//! shares with it: approve, reject, apply, rollback, with their role checks.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Role;
use super::schedule::Job;
use super::{AppState, Authed};
use crate::approval::ops::{self, DecideRequest};
use crate::approval::store::{ListFilter, QueueError};
use crate::approval::view::{ItemDetail, item_json};
use crate::approval::{Actor, State as ItemState};
use crate::jobs::queue::ApplyRequest;
use crate::jobs::{self, Ctx, ErrorKind, JobError};

/// An API failure: status and message (the web page shows the same message).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

/// The HTTP status of a use case's failure: the one place failure kinds become statuses.
#[must_use]
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Usage => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Refused | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> ApiError {
        ApiError::new(status_of(e.kind()), crate::jobs::error_chain(&e))
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        ApiError::from(JobError::from(e))
    }
}

/// The queue actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Approve,
    Reject,
    /// Take back the approvals before the apply (approvers).
    Revoke,
    Apply,
    Rollback,
}

impl Op {
    #[must_use]
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "approve" => Op::Approve,
            "reject" => Op::Reject,
            "revoke" => Op::Revoke,
            "apply" => Op::Apply,
            "rollback" => Op::Rollback,
            _ => return None,
        })
    }
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Approve => "approve",
            Op::Reject => "reject",
            Op::Revoke => "revoke",
            Op::Apply => "apply",
            Op::Rollback => "rollback",
        }
    }
}

/// The body of an action (JSON or form).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    #[serde(default)]
    pub justification: Option<String>,
    /// Which approval role to act in when the caller holds both (`approver` or
    /// `security-approver`; also `architect` or `security`).
    #[serde(default)]
    pub role: Option<String>,
    /// Apply: server-side dry run only.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply: a break-glass nonce for an apply outside the maintenance windows.
    #[serde(default)]
    pub break_glass: Option<String>,
    /// Forms' CSRF token (ignored by the API).
    #[serde(default)]
    pub csrf: Option<String>,
}

fn pick_approval_role(authed: &Authed, asked: Option<&str>) -> Result<crate::approval::Role, ApiError> {
    let held = authed.principal.approval_roles();
    if held.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} may not approve or reject: it needs the approver or security-approver role",
                authed.principal.name
            ),
        ));
    }
    match asked.map(str::trim).filter(|s| !s.is_empty()) {
        None if held.len() == 1 => Ok(held[0]),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "`role` is required: this token holds both approval roles (approver, security-approver)",
        )),
        Some(r) => {
            let role = match r {
                "approver" | "architect" => crate::approval::Role::Architect,
                "security-approver" | "security" => crate::approval::Role::Security,
                other => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("`role` {other:?}: one of approver, security-approver"),
                    ));
                }
            };
            if held.contains(&role) {
                Ok(role)
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("{} does not hold the {} role", authed.principal.name, r),
                ))
            }
        }
    }
}

/// Records a refused mutation in the item's audit log (when the item exists).
async fn audit_denied(st: &Arc<AppState>, id: &str, authed: &Authed, op: Op, why: &str) {
    let (id, who, why) = (id.to_string(), authed.principal.name.clone(), why.to_string());
    let roles = authed.principal.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
    let res = st
        .db(move |s, now| {
            let item = s.get(&id, now)?;
            s.note(&id, &Actor::new(&who, &roles), &format!("denied-{}", op.as_str()), item.state, &why, now)
        })
        .await;
    if let Err(e) = res {
        tracing::debug!(error = %e, "A refused request was not recorded (no such item).");
    }
}

/// Performs an action for a caller: role checks first (a refusal is recorded in the
/// item's audit log), then the same queue operation as the CLI.
///
/// # Errors
/// 403 missing role, 400 bad body, 404 unknown id, 409 refused transition, lock or pause,
/// 502 cluster errors.
pub async fn perform(
    st: &Arc<AppState>,
    authed: &Authed,
    id: &str,
    op: Op,
    body: &ActBody,
) -> Result<Value, ApiError> {
    let who = authed.principal.name.clone();
    match op {
        Op::Approve | Op::Reject | Op::Revoke => {
            let role = match pick_approval_role(authed, body.role.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    if e.status == StatusCode::FORBIDDEN {
                        audit_denied(st, id, authed, op, &e.message).await;
                    }
                    return Err(e);
                }
            };
            let justification = body.justification.as_deref().map(str::trim).unwrap_or("").to_string();
            if justification.is_empty() {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, "a justification is required"));
            }
            let clock = Arc::clone(st.runner.clock());
            if op == Op::Revoke {
                let id = id.to_string();
                let item = st
                    .db(move |s, _| ops::revoke(s, clock.as_ref(), &id, &who, role, &justification))
                    .await?;
                return Ok(
                    json!({"id": item.id, "state": item.state, "still_needs": [], "item": item_json(&item)}),
                );
            }
            let req = DecideRequest {
                id: id.to_string(),
                approve: op == Op::Approve,
                by: who,
                role,
                justification,
            };
            let (item, decision) = st.db(move |s, _| ops::decide(s, clock.as_ref(), &req)).await?;
            if decision.from == ItemState::Pending && decision.to != ItemState::Pending {
                let secs = st.now().duration_since(item.created_at).as_secs_f64();
                st.metrics.decided(item.tier.as_str(), secs);
            }
            Ok(json!({
                "id": item.id,
                "state": item.state,
                "still_needs": decision.still_needs.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "item": item_json(&item),
            }))
        }
        Op::Apply | Op::Rollback => {
            if !authed.principal.has(Role::Operator) {
                let why = format!("{} may not {}: it needs the operator role", who, op.as_str());
                audit_denied(st, id, authed, op, &why).await;
                return Err(ApiError::new(StatusCode::FORBIDDEN, why));
            }
            let _slot =
                st.db_slots.acquire().await.map_err(|e| {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("shutting down: {e}"))
                })?;
            let mut store = st.pool.take().map_err(ApiError::from)?;
            let clock = Arc::clone(st.runner.clock());
            let ctx = Ctx::new(&st.config, clock.as_ref());
            let owner = jobs::queue::operation_owner("aiops-serve");
            let out = if op == Op::Apply {
                let req = ApplyRequest {
                    id: id.to_string(),
                    by: who,
                    dry_run: body.dry_run,
                    force_acknowledged: None,
                    owner,
                    break_glass: body.break_glass.clone().filter(|n| !n.trim().is_empty()),
                };
                jobs::queue::apply(&mut store, &ctx, &req)
                    .await
                    .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
            } else {
                jobs::queue::rollback(&mut store, &ctx, id, &who, &owner, None)
                    .await
                    .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
            };
            st.pool.put(store);
            out.map_err(ApiError::from)
        }
    }
}

/// List query (`offset`, `limit` ≤ 500).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
    pub tier: Option<String>,
    pub namespace: Option<String>,
    pub feature: Option<String>,
    /// A cluster's items only (`-`: those without a cluster name).
    pub cluster: Option<String>,
    pub overdue: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
    pub page: Option<usize>,
}

/// The queue filter of a list query.
///
/// # Errors
/// 400 for an unknown state or tier.
pub fn filter_of(q: &ListQuery) -> Result<ListFilter, ApiError> {
    let overdue = matches!(q.overdue.as_deref().map(str::trim), Some("on" | "true" | "1" | "yes"));
    ListFilter::parse(
        q.state.as_deref(),
        q.tier.as_deref(),
        q.namespace.as_deref(),
        q.feature.as_deref(),
        q.cluster.as_deref(),
        overdue,
    )
    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(&q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let page = st.db(move |s, now| s.list_page(&filter, now, offset, limit)).await?;
    Ok(Json(json!({
        "total": page.total,
        "total_exact": page.total_exact,
        "offset": page.offset,
        "limit": page.limit,
        "items": page.items.iter().map(item_json).collect::<Vec<_>>(),
    })))
}

pub async fn detail(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = st.db(move |s, now| Ok(ItemDetail::load(s, &id, now)?.to_json())).await?;
    Ok(Json(v))
}

pub async fn act(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<ActBody>>,
) -> Result<Json<Value>, ApiError> {
    let op = Op::parse(&action).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no action {action:?}: approve, reject, revoke, apply or rollback"),
        )
    })?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    perform(&st, &authed, &id, op, &body).await.map(Json)
}

pub async fn jobs(State(st): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"now": st.now(), "jobs": st.runner.statuses()}))
}

/// Starts a job by hand (operators).
///
/// # Errors
/// 403 without the operator role, 404 unknown job, 409 running already.
pub fn start_job(st: &Arc<AppState>, authed: &Authed, job: &str) -> Result<Job, ApiError> {
    if !authed.principal.has(Role::Operator) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{} may not run jobs: it needs the operator role", authed.principal.name),
        ));
    }
    let job = Job::parse(job).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no job {job:?}: one of {}",
                Job::ALL.iter().map(|j| j.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    st.runner.start(job, None).map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    tracing::info!(job = %job, who = %authed.principal.name, "Job started by hand.");
    Ok(job)
}

pub async fn run_job(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path(job): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let job = start_job(&st, &authed, &job)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"job": job, "started": true}))))
}
