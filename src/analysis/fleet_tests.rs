//! Tests of the fleet summary: the health score, the ranking, gaps and totals. Pure.

use super::*;
use crate::model::finding::Subject;

fn finding(severity: Severity) -> Finding {
    Finding::new("x", severity, Subject::Cluster("the cluster".into()), "m".into(), "test")
}

fn figures(health: Option<(u8, f64, usize)>, security: Option<(u8, usize, usize)>) -> ClusterFigures {
    ClusterFigures {
        as_of: "2026-11-23T00:00:00Z".parse().unwrap_or_default(),
        health: health.map(|(score, savings, critical)| {
            (
                score,
                HealthSummary {
                    monthly_savings: savings,
                    critical_findings: critical,
                    problem_pods: 2,
                    nodes_not_ready: 1,
                    ..HealthSummary::default()
                },
            )
        }),
        security: security.map(|(score, critical, high)| SecuritySummary {
            cluster_score: score,
            critical,
            high,
            ..SecuritySummary::default()
        }),
        reports: vec!["c/health-2026-11-23.md".into()],
    }
}

fn ok(cluster: &str, f: ClusterFigures) -> ClusterOutcome {
    ClusterOutcome { cluster: cluster.into(), result: Ok(f) }
}

#[test]
fn health_score_uses_the_posture_formula() {
    assert_eq!(score_findings(&[], 10), 100);
    // One medium finding per object: 61, as the security score.
    assert_eq!(score_findings(&[finding(Severity::Medium)], 1), 61);
    // Info findings weigh nothing.
    assert_eq!(score_findings(&[finding(Severity::Info)], 1), 100);
    // A critical finding caps the score below 50, however large the cluster.
    assert_eq!(score_findings(&[finding(Severity::Critical)], 10_000), 49);
    // Ten times the objects for the same findings: a better score.
    let high = [finding(Severity::High), finding(Severity::High)];
    assert!(score_findings(&high, 10) > score_findings(&high, 1));
}

#[test]
fn ranks_worst_health_first_then_security_then_name() {
    let s = summarize_fleet(&[
        ok("good", figures(Some((95, 10.0, 0)), Some((90, 0, 1)))),
        ok("bad-b", figures(Some((40, 5.5, 1)), Some((70, 1, 2)))),
        ok("bad-a", figures(Some((40, 1.0, 0)), Some((30, 2, 0)))),
        ok("also-bad-a", figures(Some((40, 1.0, 0)), Some((30, 2, 0)))),
    ]);
    let order: Vec<(&str, usize)> = s.rows.iter().map(|r| (r.cluster.as_str(), r.rank)).collect();
    assert_eq!(order, [("also-bad-a", 1), ("bad-a", 2), ("bad-b", 3), ("good", 4)]);
    assert_eq!(s.totals.worst_cluster.as_deref(), Some("also-bad-a"));
    assert!((s.totals.monthly_savings - 17.5).abs() < 1e-9);
    // Critical: the health report's critical findings plus the audit's.
    let bad_b = &s.rows[2];
    assert_eq!((bad_b.critical, bad_b.high), (Some(2), Some(2)));
    assert_eq!(s.totals.critical, 2 + 2 + 2);
    assert_eq!(s.totals.high, 1 + 2);
    assert_eq!(s.totals.unhealthy_pods, 8);
    assert_eq!((s.totals.clusters, s.totals.reported, s.totals.gaps), (4, 4, 0));
}

#[test]
fn failed_clusters_are_gaps_with_their_error_and_count_in_the_totals() {
    let s = summarize_fleet(&[
        ok("a", figures(Some((80, 3.0, 0)), None)),
        ClusterOutcome { cluster: "gone".into(), result: Err("the API could not be reached".into()) },
    ]);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.gaps, [FleetGap { cluster: "gone".into(), error: "the API could not be reached".into() }]);
    assert_eq!((s.totals.clusters, s.totals.reported, s.totals.gaps), (2, 1, 1));
    // Nothing reported: no worst cluster, no savings, every cluster a gap.
    let none = summarize_fleet(&[ClusterOutcome { cluster: "x".into(), result: Err("e".into()) }]);
    assert!(none.rows.is_empty() && none.totals.worst_cluster.is_none());
    assert_eq!(none.totals.monthly_savings, 0.0);
}

#[test]
fn a_security_only_run_ranks_by_security_score_and_has_no_savings() {
    let s = summarize_fleet(&[
        ok("a", figures(None, Some((90, 0, 0)))),
        ok("b", figures(None, Some((20, 3, 4)))),
    ]);
    assert_eq!(s.rows[0].cluster, "b");
    assert_eq!(
        (s.rows[0].health_score, s.rows[0].monthly_savings, s.rows[0].unhealthy_pods),
        (None, None, None)
    );
    assert_eq!(s.rows[0].critical, Some(3));
    // A cluster with a score ranks before one without.
    let mixed = summarize_fleet(&[
        ok("no-health", figures(None, Some((10, 0, 0)))),
        ok("health", figures(Some((99, 0.0, 0)), Some((99, 0, 0)))),
    ]);
    assert_eq!(mixed.rows[0].cluster, "health");
}
