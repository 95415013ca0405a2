//! How an item is shown outside the queue (CLI `-o json`, the JSON API, the web page): one
//! summary shape, one detail shape with its history, checks and operations, and the parsing
//! of list filters. Pure, over what the store read.

use serde_json::{Value, json};

use super::state::State;
use super::store::{AuditEntry, Check, Item, ListFilter, Operation, QueueError, Store};
use crate::model::recommendation::RiskTier;

/// An item's summary: the list views and every action's answer.
#[must_use]
pub fn item_json(i: &Item) -> Value {
    json!({
        "id": i.id,
        "code": i.code,
        // "" for the configuration's own cluster.
        "cluster": i.cluster,
        "feature": i.feature,
        "target": i.target,
        "container": i.container,
        "tier": i.tier.as_str(),
        "state": i.state,
        "title": i.title,
        "requested_by": i.requested_by,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "overdue": i.overdue,
        "approvals": i.approvals,
        "phr": i.phr,
        "expired_reason": i.expired_reason,
    })
}

/// One item with everything the store knows about it.
#[derive(Debug, Clone)]
pub struct ItemDetail {
    pub item: Item,
    pub history: Vec<AuditEntry>,
    pub checks: Vec<Check>,
    pub operations: Vec<Operation>,
}

impl ItemDetail {
    /// Reads an item's detail.
    ///
    /// # Errors
    /// Unknown id, database errors.
    pub fn load(store: &Store, id: &str, now: jiff::Timestamp) -> Result<ItemDetail, QueueError> {
        Ok(ItemDetail {
            item: store.get(id, now)?,
            history: store.history(id)?,
            checks: store.checks(Some(id), None)?,
            operations: store.operations(Some(id))?,
        })
    }

    /// The detail as JSON: the summary plus recommendation, pre-state, history, checks and
    /// operations.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut v = item_json(&self.item);
        v["recommendation"] = serde_json::to_value(&self.item.recommendation).unwrap_or(Value::Null);
        v["pre_state"] = json!(self.item.pre_state);
        v["history"] = serde_json::to_value(&self.history).unwrap_or(Value::Null);
        v["checks"] = serde_json::to_value(&self.checks).unwrap_or(Value::Null);
        v["operations"] = serde_json::to_value(&self.operations).unwrap_or(Value::Null);
        v
    }
}

/// A list filter's state, or what the valid ones are (`state "x": one of pending, ...`).
///
/// # Errors
/// The name is not a state.
pub fn parse_state(s: &str) -> Result<State, String> {
    State::parse(s).ok_or_else(|| {
        format!(
            "state {s:?}: one of {}",
            State::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// A list filter's tier, or what the valid ones are.
///
/// # Errors
/// The name is not a tier.
pub fn parse_tier(s: &str) -> Result<RiskTier, String> {
    RiskTier::parse(s).ok_or_else(|| format!("tier {s:?}: one of trivial, low, medium, critical"))
}

/// How a filter names the items without a cluster name (the configuration's own cluster:
/// queued before clusters were recorded, or from a snapshot).
pub const NO_CLUSTER: &str = "-";

/// An item's cluster as shown: its name, or [`NO_CLUSTER`].
#[must_use]
pub fn cluster_label(cluster: &str) -> &str {
    if cluster.is_empty() { NO_CLUSTER } else { cluster }
}

impl ListFilter {
    /// A filter from its parts as text (blank parts are no filter).
    ///
    /// # Errors
    /// An unknown state or tier, named.
    pub fn parse(
        state: Option<&str>,
        tier: Option<&str>,
        namespace: Option<&str>,
        feature: Option<&str>,
        cluster: Option<&str>,
        overdue_only: bool,
    ) -> Result<ListFilter, String> {
        fn nonempty(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        Ok(ListFilter {
            state: nonempty(state).map(parse_state).transpose()?,
            tier: nonempty(tier).map(parse_tier).transpose()?,
            namespace: nonempty(namespace).map(str::to_string),
            feature: nonempty(feature).map(str::to_string),
            cluster: nonempty(cluster).map(|c| if c == NO_CLUSTER { String::new() } else { c.to_string() }),
            overdue_only,
        })
    }
}
