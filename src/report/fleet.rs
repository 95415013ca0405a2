//! The fleet summary report (`fleet-DATE.{md,html,json}` next to the per-cluster folders of
//! a multi-cluster `aiops report` run): the JSON document ([`FleetReport`], schema
//! `aiops.report.fleet/v1`, docs/report-schema.md) and the view the Markdown and HTML
//! templates (`report-templates/fleet.*`) render. Pure.

use jiff::Timestamp;
use serde::Serialize;

use super::{ReportError, ReportFormat, date_of, fmt_money, templates};
use crate::analysis::fleet::{FLEET_SCHEMA, FleetGap, FleetRow, FleetSummary, FleetTotals};

/// The fleet summary as written to `fleet-DATE.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    /// [`FLEET_SCHEMA`].
    pub schema: &'static str,
    pub kind: &'static str,
    /// `health`, `security` or `weekly`: the per-cluster reports summarized.
    pub report: String,
    pub date: String,
    /// When the fleet run ran (each cluster's own `as_of` is in its row).
    pub as_of: Timestamp,
    /// Ranked worst first.
    pub clusters: Vec<FleetRow>,
    /// Clusters that were not reported on, with the reason.
    pub gaps: Vec<FleetGap>,
    pub totals: FleetTotals,
}

impl FleetReport {
    /// The report of a fleet summary.
    #[must_use]
    pub fn new(report: &str, as_of: Timestamp, mut summary: FleetSummary) -> FleetReport {
        // Money to the cent: the JSON carries no float noise.
        let cents = |v: f64| (v * 100.0).round() / 100.0;
        for r in &mut summary.rows {
            r.monthly_savings = r.monthly_savings.map(cents);
        }
        summary.totals.monthly_savings = cents(summary.totals.monthly_savings);
        FleetReport {
            schema: FLEET_SCHEMA,
            kind: "fleet",
            report: report.to_string(),
            date: date_of(as_of).to_string(),
            as_of,
            clusters: summary.rows,
            gaps: summary.gaps,
            totals: summary.totals,
        }
    }
}

/// A link to one of a cluster's reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub label: String,
    pub href: String,
}

/// One cluster's row as the templates show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowText {
    pub rank: usize,
    pub cluster: String,
    pub as_of: String,
    pub health_score: String,
    pub security_score: String,
    pub critical: String,
    pub high: String,
    pub monthly_savings: String,
    pub unhealthy_pods: String,
    /// Links to the cluster's reports in the format being rendered.
    pub links: Vec<Link>,
}

/// The Markdown and HTML view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetView {
    pub schema: &'static str,
    /// What the figures come from (the page footer).
    pub source: String,
    pub report: String,
    pub date: String,
    pub as_of: String,
    pub headline: String,
    /// `critical`, `degraded` or `healthy`: the banner of the HTML.
    pub status: &'static str,
    pub rows: Vec<RowText>,
    pub gaps: Vec<FleetGap>,
    pub totals: FleetTotals,
    pub savings_total: String,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| v.to_string())
}

/// One line on the fleet: how many clusters, the worst, the savings.
#[must_use]
pub fn headline(r: &FleetReport) -> String {
    let t = &r.totals;
    let mut text = format!("{} clusters: {} reported", t.clusters, t.reported);
    if t.gaps > 0 {
        text.push_str(&format!(", {} not reported (gaps)", t.gaps));
    }
    if let Some(worst) = r.clusters.first() {
        text.push_str(&format!(
            "; most in need of attention: {} (health {}, security {})",
            worst.cluster,
            opt(worst.health_score),
            opt(worst.security_score)
        ));
    }
    if r.clusters.iter().any(|c| c.monthly_savings.is_some()) {
        text.push_str(&format!("; sizing savings {} per month", fmt_money(t.monthly_savings)));
    }
    text
}

/// The view of `r` for `format` (its links point at the clusters' reports in that format).
#[must_use]
pub fn build_fleet_view(r: &FleetReport, format: ReportFormat) -> FleetView {
    let ext = format!(".{}", format.ext());
    let rows = r
        .clusters
        .iter()
        .map(|c| RowText {
            rank: c.rank,
            cluster: c.cluster.clone(),
            as_of: c.as_of.to_string(),
            health_score: opt(c.health_score),
            security_score: opt(c.security_score),
            critical: opt(c.critical),
            high: opt(c.high),
            monthly_savings: c.monthly_savings.map_or_else(|| "–".to_string(), fmt_money),
            unhealthy_pods: opt(c.unhealthy_pods),
            links: c
                .reports
                .iter()
                .filter(|p| p.ends_with(&ext))
                .map(|p| Link {
                    label: p.rsplit('/').next().unwrap_or(p).split('-').next().unwrap_or(p).to_string(),
                    href: p.clone(),
                })
                .collect(),
        })
        .collect();
    let critical = r.totals.critical > 0;
    let status = if critical || r.totals.gaps > 0 {
        "critical"
    } else if r.totals.high > 0 {
        "degraded"
    } else {
        "healthy"
    };
    FleetView {
        schema: r.schema,
        source: format!("the {} reports of {} clusters", r.report, r.totals.clusters),
        report: r.report.clone(),
        date: r.date.clone(),
        as_of: r.as_of.to_string(),
        headline: headline(r),
        status,
        rows,
        gaps: r.gaps.clone(),
        totals: r.totals.clone(),
        savings_total: fmt_money(r.totals.monthly_savings),
    }
}

/// Renders the fleet report in a format (not yet redacted).
///
/// # Errors
/// A template or serialization failure.
pub fn render_fleet(r: &FleetReport, format: ReportFormat) -> Result<String, ReportError> {
    match format {
        ReportFormat::Json => serde_json::to_string_pretty(r)
            .map(|s| s + "\n")
            .map_err(|e| ReportError::Render(format!("fleet JSON: {e}"))),
        ReportFormat::Md | ReportFormat::Html => {
            templates::render(&format!("fleet.{}", format.ext()), &build_fleet_view(r, format))
                .map_err(ReportError::Render)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fleet::{ClusterFigures, ClusterOutcome, summarize_fleet};

    fn report() -> FleetReport {
        let figures = ClusterFigures {
            reports: vec!["a/security-2026-11-23.md".into(), "a/security-2026-11-23.html".into()],
            ..ClusterFigures::default()
        };
        let summary = summarize_fleet(&[
            ClusterOutcome { cluster: "a".into(), result: Ok(figures) },
            ClusterOutcome { cluster: "b".into(), result: Err("unreachable <b>".into()) },
        ]);
        FleetReport::new("security", Timestamp::UNIX_EPOCH, summary)
    }

    #[test]
    fn every_format_renders_and_links_its_own_format() -> Result<(), ReportError> {
        let r = report();
        let md = render_fleet(&r, ReportFormat::Md)?;
        assert!(md.contains("[security](a/security-2026-11-23.md)") && !md.contains(".html"), "{md}");
        assert!(md.contains("| b | unreachable <b> |"), "{md}");
        let html = render_fleet(&r, ReportFormat::Html)?;
        assert!(html.contains(r#"<a href="a/security-2026-11-23.html">security</a>"#), "{html}");
        // Escaped: an error's text is never markup.
        assert!(html.contains("unreachable &lt;b&gt;") && !html.contains("unreachable <b>"), "{html}");
        let json: serde_json::Value = serde_json::from_str(&render_fleet(&r, ReportFormat::Json)?)
            .map_err(|e| ReportError::Render(e.to_string()))?;
        assert_eq!(json["schema"], FLEET_SCHEMA);
        assert_eq!(json["clusters"][0]["health_score"], serde_json::Value::Null);
        assert_eq!(json["gaps"][0]["cluster"], "b");
        Ok(())
    }
}
