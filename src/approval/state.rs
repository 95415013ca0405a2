//! The queue's state machine: pure. Which transitions exist, and what each risk tier of
//! PRODUCT.md asks before a change may be applied.
//!
//! ```text
//! pending ──approve──► approved ──start-apply──► applying ──finish-apply──► applied ──verify──► verified
//!    │  (critical: architect + security,            │  └─abort-apply─► approved      │  └─fail-check─► failed
//!    │   two different people)                      └──fail-apply──► failed          └──rollback──► rolled_back
//!    ├──approve-by-policy (trivial only)──► approved
//!    ├──reject──► rejected                                   (verified and failed can be rolled back too)
//!    └──expire──► expired            approved ──expire (not applied in time)──► expired
//!  pending/approved ──revoke (every approval taken back, audited)──► pending
//!  failed ──retry (cause fixed; approvals stand)──► approved
//! ```
//!
//! Trivial items need no approval: as they are enqueued, the store asks for the
//! `ApproveByPolicy` transition (allowed for the trivial tier only) and records it with a
//! policy entry in the audit log. Low and medium need one approval (a review for low), by an
//! architect or a security approver. Critical needs an architect approval **and** a
//! security approval, from two different people. Nobody approves a request they made, nor
//! approves one item twice under two roles. Approving and rejecting need a justification.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::recommendation::RiskTier;

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Rejected,
    Expired,
    Applying,
    Applied,
    Verified,
    RolledBack,
    Failed,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Pending,
        State::Approved,
        State::Rejected,
        State::Expired,
        State::Applying,
        State::Applied,
        State::Verified,
        State::RolledBack,
        State::Failed,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Expired => "expired",
            State::Applying => "applying",
            State::Applied => "applied",
            State::Verified => "verified",
            State::RolledBack => "rolled_back",
            State::Failed => "failed",
        }
    }

    /// Parses [`State::as_str`] (also accepts `rolled-back`).
    #[must_use]
    pub fn parse(s: &str) -> Option<State> {
        let s = s.replace('-', "_");
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The cluster may carry the change (it was applied and not rolled back).
    #[must_use]
    pub fn is_in_effect(self) -> bool {
        matches!(self, State::Applied | State::Verified | State::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role an approval is given under.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Owns the workload or the platform: approves operational changes.
    Architect,
    /// The security approval critical changes need in addition.
    Security,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Architect => "architect",
            Role::Security => "security",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "architect" => Some(Role::Architect),
            "security" => Some(Role::Security),
            _ => None,
        }
    }
}

/// One approval given to an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub who: String,
    pub role: Role,
    pub at: Timestamp,
    pub justification: String,
}

/// What a transition is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve {
        who: String,
        role: Role,
        justification: String,
    },
    Reject {
        who: String,
        role: Role,
        justification: String,
    },
    /// The tier needs no approval (trivial): approved by policy as it is queued.
    ApproveByPolicy,
    /// Take back every approval given so far (before the apply starts): the item waits for
    /// its approvals again.
    Revoke {
        who: String,
        role: Role,
        justification: String,
    },
    /// The target is gone, the analysis no longer proposes it, or a newer proposal replaced it.
    Expire {
        reason: String,
    },
    StartApply,
    FinishApply,
    /// The apply did not happen (read back unchanged): the approval still stands.
    AbortApply {
        reason: String,
    },
    /// The apply may have happened partly or the object is in an unknown state.
    FailApply {
        reason: String,
    },
    /// Every post-action check passed.
    Verify,
    /// A post-action check failed: the rollback is proposed.
    FailCheck {
        reason: String,
    },
    Rollback,
    /// A failed apply is tried again after its cause was fixed (the approvals stand: the
    /// change is the same): back to approved, then applied as any approved item.
    Retry {
        who: String,
        justification: String,
    },
}

impl Action {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::ApproveByPolicy => "approve",
            Action::Revoke { .. } => "revoke",
            Action::Expire { .. } => "expire",
            Action::StartApply => "start-apply",
            Action::FinishApply => "finish-apply",
            Action::AbortApply { .. } => "abort-apply",
            Action::FailApply { .. } => "fail-apply",
            Action::Verify => "verify",
            Action::FailCheck { .. } => "fail-check",
            Action::Rollback => "rollback",
            Action::Retry { .. } => "retry",
        }
    }
}

/// What the machine needs to know of an item.
#[derive(Debug, Clone, Copy)]
pub struct ItemFacts<'a> {
    pub tier: RiskTier,
    pub state: State,
    /// Who enqueued it (`aiops` for an analysis run without `--by`).
    pub requested_by: &'a str,
    pub approvals: &'a [Approval],
}

/// A transition the store should record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub from: State,
    pub to: State,
    /// An approval to store with the transition.
    pub approval: Option<(String, Role, String)>,
    /// Roles still missing when the item stays pending (critical).
    pub still_needs: Vec<Role>,
}

/// Why a transition was refused. The store changes nothing when it gets one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} an item that is {from}{hint}")]
    NotAllowed { action: &'static str, from: State, hint: String },
    #[error("a justification is required to {0}")]
    MissingJustification(&'static str),
    #[error("{who} requested this change and cannot approve it")]
    OwnRequest { who: String },
    #[error("already approved as {role} by {who}")]
    RoleAlreadyGiven { role: &'static str, who: String },
    #[error("{who} already approved this item as {role}; the second approval must come from someone else")]
    SamePersonTwice { who: String, role: &'static str },
    #[error("approver name is empty")]
    NoApprover,
    #[error("there is no approval to revoke")]
    NothingToRevoke,
}

/// Roles a tier's approval needs.
#[must_use]
pub fn required_roles(tier: RiskTier) -> &'static [Role] {
    match tier {
        RiskTier::Trivial => &[],
        // Any one approver: the role given is recorded, either counts.
        RiskTier::Low | RiskTier::Medium => &[Role::Architect],
        RiskTier::Critical => &[Role::Architect, Role::Security],
    }
}

/// How long an item may wait for its decision before it is flagged overdue (PRODUCT.md:
/// low 5 min, medium 30 min, critical 60–120 min: 120 here).
#[must_use]
pub fn approval_window(tier: RiskTier) -> Option<SignedDuration> {
    match tier {
        RiskTier::Trivial => None,
        RiskTier::Low => Some(SignedDuration::from_mins(5)),
        RiskTier::Medium => Some(SignedDuration::from_mins(30)),
        RiskTier::Critical => Some(SignedDuration::from_mins(120)),
    }
}

/// A pending item past its tier's approval window.
#[must_use]
pub fn is_overdue(tier: RiskTier, state: State, created_at: Timestamp, now: Timestamp) -> bool {
    state == State::Pending && approval_window(tier).is_some_and(|w| now.duration_since(created_at) > w)
}

/// The audit justification of an approval by policy.
pub const POLICY_APPROVAL: &str = "trivial tier: no approval needed";

/// Why a pending item expires when a run of its analysis no longer proposes it: a newer
/// proposal for the same target replaced it, its target is gone, or the problem is gone.
#[must_use]
pub fn expiry_reason(replaced_by: Option<&str>, target_gone: bool, target: &str, feature: &str) -> String {
    if let Some(id) = replaced_by {
        format!("superseded by {id} (new values for the same target)")
    } else if target_gone {
        format!("target {target} no longer exists")
    } else {
        format!("the {feature} analysis no longer proposes it (problem gone)")
    }
}

/// What a tier asks before a change may be applied, in words.
#[must_use]
pub fn requirement(tier: RiskTier) -> &'static str {
    match tier {
        RiskTier::Trivial => "no approval needed",
        RiskTier::Low => "one review",
        RiskTier::Medium => "one approval",
        RiskTier::Critical => "an architect approval and a security approval from a different person",
    }
}

fn hint(from: State, action: &Action) -> String {
    match (from, action) {
        (State::Pending, Action::StartApply) => " (it has not been approved)".into(),
        (State::Expired, _) => " (it expired: rerun the analysis to propose it again)".into(),
        (State::Approved, Action::Approve { .. }) => " (it is approved already)".into(),
        (State::Applied | State::Verified, Action::Approve { .. } | Action::Reject { .. }) => {
            " (it was applied: roll it back instead)".into()
        }
        _ => String::new(),
    }
}

/// Decides a transition.
///
/// # Errors
/// [`TransitionError`] when the action is not allowed from the item's state or the tier's
/// rules refuse it; nothing is to be changed then.
pub fn decide(item: ItemFacts<'_>, action: &Action) -> Result<Decision, TransitionError> {
    use State as S;
    let from = item.state;
    let to = |to: S| Ok(Decision { from, to, approval: None, still_needs: Vec::new() });
    let refuse =
        || Err(TransitionError::NotAllowed { action: action.name(), from, hint: hint(from, action) });
    match (from, action) {
        (S::Pending, Action::Approve { who, role, justification }) => {
            let who = who.trim();
            if who.is_empty() {
                return Err(TransitionError::NoApprover);
            }
            if justification.trim().is_empty() {
                return Err(TransitionError::MissingJustification("approve"));
            }
            if who == item.requested_by {
                return Err(TransitionError::OwnRequest { who: who.to_string() });
            }
            if let Some(a) = item.approvals.iter().find(|a| a.role == *role) {
                return Err(TransitionError::RoleAlreadyGiven { role: role.as_str(), who: a.who.clone() });
            }
            if let Some(a) = item.approvals.iter().find(|a| a.who == who) {
                return Err(TransitionError::SamePersonTwice { who: who.to_string(), role: a.role.as_str() });
            }
            let mut given: Vec<Role> = item.approvals.iter().map(|a| a.role).collect();
            given.push(*role);
            let still_needs: Vec<Role> = match item.tier {
                RiskTier::Critical => {
                    required_roles(item.tier).iter().copied().filter(|r| !given.contains(r)).collect()
                }
                _ => Vec::new(),
            };
            Ok(Decision {
                from,
                to: if still_needs.is_empty() { S::Approved } else { S::Pending },
                approval: Some((who.to_string(), *role, justification.trim().to_string())),
                still_needs,
            })
        }
        (S::Pending, Action::Reject { who, justification, .. }) => {
            if who.trim().is_empty() {
                return Err(TransitionError::NoApprover);
            }
            if justification.trim().is_empty() {
                return Err(TransitionError::MissingJustification("reject"));
            }
            to(S::Rejected)
        }
        (S::Pending, Action::ApproveByPolicy) if required_roles(item.tier).is_empty() => to(S::Approved),
        (S::Pending, Action::Expire { .. }) => to(S::Expired),
        // An approval not acted upon within its time expires too.
        (S::Approved, Action::Expire { .. }) => to(S::Expired),
        (S::Pending | S::Approved, Action::Revoke { who, justification, .. }) => {
            if who.trim().is_empty() {
                return Err(TransitionError::NoApprover);
            }
            if justification.trim().is_empty() {
                return Err(TransitionError::MissingJustification("revoke"));
            }
            if item.approvals.is_empty() {
                return Err(TransitionError::NothingToRevoke);
            }
            to(S::Pending)
        }
        (S::Approved, Action::StartApply) => to(S::Applying),
        (S::Applying, Action::FinishApply) => to(S::Applied),
        (S::Applying, Action::AbortApply { .. }) => to(S::Approved),
        (S::Applying, Action::FailApply { .. }) => to(S::Failed),
        (S::Applied, Action::Verify) => to(S::Verified),
        (S::Applied, Action::FailCheck { .. }) => to(S::Failed),
        (S::Applied | S::Verified | S::Failed, Action::Rollback) => to(S::RolledBack),
        (S::Failed, Action::Retry { who, justification }) => {
            if who.trim().is_empty() {
                return Err(TransitionError::NoApprover);
            }
            if justification.trim().is_empty() {
                return Err(TransitionError::MissingJustification("retry"));
            }
            to(S::Approved)
        }
        _ => refuse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(who: &str, role: Role) -> Approval {
        Approval { who: who.into(), role, at: Timestamp::UNIX_EPOCH, justification: "ok".into() }
    }

    fn approve(who: &str, role: Role) -> Action {
        Action::Approve { who: who.into(), role, justification: "load is steady".into() }
    }

    fn all_actions() -> Vec<Action> {
        vec![
            approve("ann", Role::Architect),
            Action::Reject { who: "ann".into(), role: Role::Architect, justification: "no".into() },
            Action::Expire { reason: "gone".into() },
            Action::StartApply,
            Action::FinishApply,
            Action::AbortApply { reason: "unchanged".into() },
            Action::FailApply { reason: "500".into() },
            Action::Verify,
            Action::FailCheck { reason: "restarts".into() },
            Action::Rollback,
            Action::ApproveByPolicy,
            Action::Revoke { who: "ann".into(), role: Role::Architect, justification: "wrong window".into() },
            Action::Retry { who: "ann".into(), justification: "quota raised".into() },
        ]
    }

    /// The allowed transitions, written out independently of `decide`.
    fn expected(from: State, action: &str) -> Option<State> {
        use State as S;
        Some(match (from, action) {
            (S::Pending, "approve") => S::Approved,
            (S::Pending, "reject") => S::Rejected,
            (S::Pending | S::Approved, "expire") => S::Expired,
            (S::Approved, "start-apply") => S::Applying,
            (S::Applying, "finish-apply") => S::Applied,
            (S::Applying, "abort-apply") => S::Approved,
            (S::Applying, "fail-apply") => S::Failed,
            (S::Applied, "verify") => S::Verified,
            (S::Applied, "fail-check") => S::Failed,
            (S::Applied | S::Verified | S::Failed, "rollback") => S::RolledBack,
            (S::Failed, "retry") => S::Approved,
            _ => return None,
        })
    }

    #[test]
    fn every_state_and_action_pair_is_allowed_or_refused_as_specified() {
        let mut checked = 0;
        for tier in [RiskTier::Trivial, RiskTier::Low, RiskTier::Medium] {
            for from in State::ALL {
                for action in all_actions() {
                    let facts = ItemFacts { tier, state: from, requested_by: "aiops", approvals: &[] };
                    let got = decide(facts, &action);
                    let want = if action == Action::ApproveByPolicy {
                        (from == State::Pending && tier == RiskTier::Trivial).then_some(State::Approved)
                    } else if action.name() == "revoke" {
                        // With no approval given there is nothing to revoke (tested below).
                        None
                    } else {
                        expected(from, action.name())
                    };
                    match want {
                        Some(to) => {
                            assert_eq!(got.map(|d| d.to), Ok(to), "{tier:?} {from} {}", action.name())
                        }
                        None => assert!(
                            matches!(
                                got,
                                Err(TransitionError::NotAllowed { .. } | TransitionError::NothingToRevoke)
                            ),
                            "{tier:?} {from} {} gave {got:?}",
                            action.name()
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 3 * 9 * 13);
    }

    #[test]
    fn a_retry_needs_a_name_and_what_was_fixed() {
        let f =
            ItemFacts { tier: RiskTier::Medium, state: State::Failed, requested_by: "aiops", approvals: &[] };
        let retry = |who: &str, why: &str| Action::Retry { who: who.into(), justification: why.into() };
        assert_eq!(decide(f, &retry("ann", "quota raised")).map(|d| d.to), Ok(State::Approved));
        assert_eq!(decide(f, &retry("ann", "  ")), Err(TransitionError::MissingJustification("retry")));
        assert_eq!(decide(f, &retry(" ", "quota raised")), Err(TransitionError::NoApprover));
    }

    #[test]
    fn critical_needs_an_architect_and_a_different_security_approver() {
        let facts = |approvals: &'static [Approval]| ItemFacts {
            tier: RiskTier::Critical,
            state: State::Pending,
            requested_by: "aiops",
            approvals,
        };
        let first = decide(facts(&[]), &approve("ann", Role::Architect)).unwrap();
        assert_eq!(first.to, State::Pending);
        assert_eq!(first.still_needs, vec![Role::Security]);
        assert_eq!(first.approval.as_ref().unwrap().1, Role::Architect);
        // Security first works too.
        let first = decide(facts(&[]), &approve("sam", Role::Security)).unwrap();
        assert_eq!((first.to, first.still_needs), (State::Pending, vec![Role::Architect]));

        static ANN: std::sync::LazyLock<Vec<Approval>> =
            std::sync::LazyLock::new(|| vec![approval("ann", Role::Architect)]);
        let f = ItemFacts {
            tier: RiskTier::Critical,
            state: State::Pending,
            requested_by: "aiops",
            approvals: &ANN,
        };
        assert_eq!(decide(f, &approve("sam", Role::Security)).unwrap().to, State::Approved);
        assert_eq!(
            decide(f, &approve("ann", Role::Security)),
            Err(TransitionError::SamePersonTwice { who: "ann".into(), role: "architect" })
        );
        assert_eq!(
            decide(f, &approve("bob", Role::Architect)),
            Err(TransitionError::RoleAlreadyGiven { role: "architect", who: "ann".into() })
        );
    }

    #[test]
    fn one_approval_is_enough_below_critical_with_either_role() {
        for tier in [RiskTier::Low, RiskTier::Medium, RiskTier::Trivial] {
            for role in [Role::Architect, Role::Security] {
                let f = ItemFacts { tier, state: State::Pending, requested_by: "aiops", approvals: &[] };
                let d = decide(f, &approve("ann", role)).unwrap();
                assert_eq!((d.to, d.still_needs.len()), (State::Approved, 0), "{tier:?} {role:?}");
            }
        }
    }

    #[test]
    fn justification_approver_and_own_requests_are_enforced() {
        let f = ItemFacts {
            tier: RiskTier::Medium,
            state: State::Pending,
            requested_by: "carol",
            approvals: &[],
        };
        let blank = Action::Approve { who: "ann".into(), role: Role::Architect, justification: "  ".into() };
        assert_eq!(decide(f, &blank), Err(TransitionError::MissingJustification("approve")));
        let blank = Action::Reject { who: "ann".into(), role: Role::Architect, justification: String::new() };
        assert_eq!(decide(f, &blank), Err(TransitionError::MissingJustification("reject")));
        assert_eq!(decide(f, &approve(" ", Role::Architect)), Err(TransitionError::NoApprover));
        assert_eq!(
            decide(f, &approve("carol", Role::Architect)),
            Err(TransitionError::OwnRequest { who: "carol".into() })
        );
        // Errors read well.
        let e =
            decide(ItemFacts { state: State::Expired, ..f }, &approve("ann", Role::Architect)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot approve an item that is expired (it expired: rerun the analysis to propose it again)"
        );
        let e = decide(ItemFacts { state: State::Pending, ..f }, &Action::StartApply).unwrap_err();
        assert!(e.to_string().contains("has not been approved"), "{e}");
    }

    #[test]
    fn a_revoke_takes_back_approvals_until_the_apply_starts() {
        static ANN: std::sync::LazyLock<Vec<Approval>> =
            std::sync::LazyLock::new(|| vec![approval("ann", Role::Architect)]);
        let revoke =
            Action::Revoke { who: "ann".into(), role: Role::Architect, justification: "wrong window".into() };
        for from in [State::Approved, State::Pending] {
            let f =
                ItemFacts { tier: RiskTier::Critical, state: from, requested_by: "aiops", approvals: &ANN };
            assert_eq!(decide(f, &revoke).unwrap().to, State::Pending, "{from}");
        }
        let none = ItemFacts {
            tier: RiskTier::Medium,
            state: State::Pending,
            requested_by: "aiops",
            approvals: &[],
        };
        assert_eq!(decide(none, &revoke), Err(TransitionError::NothingToRevoke));
        for from in [State::Applying, State::Applied, State::Verified, State::Rejected, State::Expired] {
            let f = ItemFacts { tier: RiskTier::Medium, state: from, requested_by: "aiops", approvals: &ANN };
            assert!(matches!(decide(f, &revoke), Err(TransitionError::NotAllowed { .. })), "{from}");
        }
        let blank = Action::Revoke { who: "ann".into(), role: Role::Architect, justification: " ".into() };
        let f = ItemFacts {
            tier: RiskTier::Medium,
            state: State::Approved,
            requested_by: "aiops",
            approvals: &ANN,
        };
        assert_eq!(decide(f, &blank), Err(TransitionError::MissingJustification("revoke")));
    }

    #[test]
    fn overdue_follows_the_tier_windows() {
        let t0: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let at = |m: i64| t0 + SignedDuration::from_mins(m);
        assert!(!is_overdue(RiskTier::Low, State::Pending, t0, at(5)));
        assert!(is_overdue(RiskTier::Low, State::Pending, t0, at(6)));
        assert!(!is_overdue(RiskTier::Medium, State::Pending, t0, at(30)));
        assert!(is_overdue(RiskTier::Medium, State::Pending, t0, at(31)));
        assert!(!is_overdue(RiskTier::Critical, State::Pending, t0, at(120)));
        assert!(is_overdue(RiskTier::Critical, State::Pending, t0, at(121)));
        assert!(!is_overdue(RiskTier::Trivial, State::Pending, t0, at(10_000)));
        assert!(!is_overdue(RiskTier::Medium, State::Approved, t0, at(31)));
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("rolled-back"), Some(State::RolledBack));
        assert_eq!(State::parse("done"), None);
    }
}
