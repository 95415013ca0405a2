//! The health report's HPA section: what `aiops hpa` recommends and finds, in rows. No I/O.

use serde::Serialize;

use crate::model::recommendation::RiskTier;
use crate::report::{fmt_bytes, fmt_cores};

/// The HPA analysis in the health report: what `aiops hpa` recommends and finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaSection {
    /// "28 workloads (3 with an HPA), 8 recommendations (2 enable an HPA), 3 findings".
    pub summary: String,
    /// Extra capacity at the recommendations' maxima against free capacity.
    pub capacity: String,
    pub recommendations: Vec<HpaRow>,
    pub findings: Vec<HpaFindingRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaRow {
    pub tier: String,
    pub target: String,
    pub change: String,
    pub why: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaFindingRow {
    pub severity: String,
    pub code: String,
    pub target: String,
    pub message: String,
}

/// The change an HPA recommendation makes, in one line ("new HPA min 2 max 6 cpu 70%").
#[must_use]
pub fn hpa_change(r: &crate::model::recommendation::Recommendation) -> String {
    let s = &r.patch["spec"];
    match r.code.as_str() {
        "hpa-enable" => format!(
            "new HPA min {} max {} cpu {}%",
            s["minReplicas"], s["maxReplicas"], s["metrics"][0]["resource"]["target"]["averageUtilization"]
        ),
        "hpa-raise-max" => {
            format!("maxReplicas {} → {}", r.rollback["spec"]["maxReplicas"], s["maxReplicas"])
        }
        "hpa-lower-min" => {
            format!("minReplicas {} → {}", r.rollback["spec"]["minReplicas"], s["minReplicas"])
        }
        "hpa-raise-target" => {
            format!("cpu target → {}%", s["metrics"][0]["resource"]["target"]["averageUtilization"])
        }
        "hpa-stabilize-scale-down" => {
            format!("scaleDown window {}s", s["behavior"]["scaleDown"]["stabilizationWindowSeconds"])
        }
        "scale-replicas" => format!("replicas {} → {}", r.rollback["spec"]["replicas"], s["replicas"]),
        _ => String::new(),
    }
}

/// The health report's HPA section from an HPA analysis.
#[must_use]
pub fn hpa_section(r: &crate::analysis::hpa::HpaReport) -> HpaSection {
    use crate::analysis::hpa::Verdict;
    let enable = r.workloads.iter().filter(|w| w.verdict == Verdict::EnableHpa).count();
    let with_hpa = r.workloads.iter().filter(|w| w.hpa.is_some()).count();
    let d = &r.demand;
    #[allow(clippy::cast_precision_loss)]
    let capacity = format!(
        "at their maxima the recommendations add {} pods ({} CPU, {} memory requested); free schedulable: {} CPU, {} memory: {}",
        d.extra_pods,
        fmt_cores(d.extra.cpu.0 as f64 / 1000.0),
        fmt_bytes(d.extra.memory.0 as f64),
        fmt_cores(d.free.cpu.0 as f64 / 1000.0),
        fmt_bytes(d.free.memory.0 as f64),
        if d.fits { "fits" } else { "does NOT fit without a cluster autoscaler" }
    );
    HpaSection {
        summary: format!(
            "{} workloads ({with_hpa} with an HPA), {} recommendations ({enable} enable an HPA), {} findings",
            r.workloads.len(),
            r.recommendations.len(),
            r.findings.len()
        ),
        capacity,
        recommendations: r
            .recommendations
            .iter()
            .map(|rec| HpaRow {
                tier: RiskTier::as_str(rec.tier).to_string(),
                target: format!(
                    "{}/{}/{}",
                    rec.target.kind,
                    rec.target.namespace.as_deref().unwrap_or(""),
                    rec.target.name
                ),
                change: hpa_change(rec),
                why: rec.summary.clone(),
                id: rec.id.clone(),
            })
            .collect(),
        findings: r
            .findings
            .iter()
            .map(|f| HpaFindingRow {
                severity: f.severity.as_str().to_string(),
                code: f.code.clone(),
                target: f.target.to_string(),
                message: f.message.clone(),
            })
            .collect(),
    }
}
