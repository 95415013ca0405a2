//! What one SLO of one service says: its state, burn rates and error budget. The types the
//! request figures carry ([`super::requests`]); [`super::slo`] computes them. Pure.

use serde::Serialize;

/// Where an SLO stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SloState {
    Met,
    SlowBurn,
    BudgetExhausted,
    FastBurn,
    NoData,
}

impl SloState {
    /// Words for the reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SloState::Met => "met",
            SloState::SlowBurn => "slow burn",
            SloState::BudgetExhausted => "budget exhausted",
            SloState::FastBurn => "fast burn",
            SloState::NoData => "no data",
        }
    }
}

/// Burn rates over the four windows ending at `as_of` (`None`: fewer than two samples or no
/// requests in the window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BurnRates {
    pub m5: Option<f64>,
    pub m30: Option<f64>,
    pub h1: Option<f64>,
    pub h6: Option<f64>,
}

/// One SLO of one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloStatus {
    /// `availability` or `latency`.
    pub sli: &'static str,
    /// The share of good requests asked for (0.999; 0.95 for latency).
    pub target: f64,
    /// Latency: the p95 threshold in seconds.
    pub threshold_seconds: Option<f64>,
    /// Where the target comes from (`annotation aiops.io/slo-availability`, `config file`, ...).
    pub target_source: String,
    pub period_days: f64,
    /// Days of the period the figures cover (less than the period when the data is shorter).
    pub covered_days: Option<f64>,
    /// `Prometheus increase() over the period` or `samples of the source`.
    pub period_basis: &'static str,
    /// Good requests / requests over the covered period.
    pub good_ratio: Option<f64>,
    /// Bad / ((1 − target) × requests) over the covered period.
    pub budget_spent: Option<f64>,
    pub burn: BurnRates,
    pub state: SloState,
}
