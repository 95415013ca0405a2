use super::*;
use crate::model::incident::{Cause, IncidentKey};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn opened() -> WatchEvent {
    WatchEvent::Opened {
        id: "inc-1".into(),
        at: t("2026-12-07T12:00:05Z"),
        incident: IncidentKey {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            cause: Cause::CrashLoop,
        },
        pod: "web-1".into(),
        detail: "Error, exit 1 (3 restarts)".into(),
        first_signal: t("2026-12-07T12:00:00Z"),
        pre_existing: false,
    }
}

#[test]
fn the_generic_object_carries_kind_incident_cause_controller_tier_times_and_link() {
    let o = Outgoing::Event(opened(), None);
    let n = notification(&o, None, None, 0);
    let known = Known {
        cause: n.cause.clone().unwrap(),
        controller: n.controller.clone().unwrap(),
        first_signal: n.times.first_signal,
        detected: n.times.detected,
    };
    let v = body(&n, Format::Json);
    assert_eq!(v["kind"], "incident-opened");
    assert_eq!(v["incident"], "inc-1");
    assert_eq!(v["cause"], "crash-loop");
    assert_eq!(v["controller"], "shop/Deployment/web");
    assert_eq!(v["times"]["first_signal"], "2026-12-07T12:00:00Z");
    assert_eq!(v["times"]["detected"], "2026-12-07T12:00:05Z");
    // A later event of the incident: what its first event said, its item, tier and link.
    let d = WatchEvent::Diagnosed {
        id: "inc-1".into(),
        at: t("2026-12-07T12:00:06Z"),
        summary: "container app exits with code 1 (token=abc123secretsecret)".into(),
        class: "app-error".into(),
        item: Some("rollback-app-00ff".into()),
        appliable: true,
        applied: None,
        seconds: 0.4,
    };
    let n = notification(
        &Outgoing::Event(d, Some(RiskTier::Medium)),
        Some(&known),
        Some("https://aiops.example.com/"),
        2,
    );
    let v = body(&n, Format::Json);
    assert_eq!(v["kind"], "incident-diagnosed");
    assert_eq!(
        (v["cause"].as_str(), v["controller"].as_str()),
        (Some("crash-loop"), Some("shop/Deployment/web"))
    );
    assert_eq!((v["item"].as_str(), v["tier"].as_str()), (Some("rollback-app-00ff"), Some("medium")));
    assert_eq!(v["link"], "https://aiops.example.com/queue/rollback-app-00ff");
    assert_eq!(v["times"]["at"], "2026-12-07T12:00:06Z");
    assert_eq!(v["times"]["first_signal"], "2026-12-07T12:00:00Z");
    assert_eq!(v["held_back"], 2);
    assert!(!v["text"].as_str().unwrap().contains("abc123secretsecret"), "redacted: {v}");
    // The Slack text: one line, the link and the held-back count in it.
    let s = body(&n, Format::Slack);
    let text = s["text"].as_str().unwrap();
    assert!(
        text.starts_with("aiops: ") && text.contains("(https://aiops.example.com/queue/rollback-app-00ff)"),
        "{text}"
    );
    assert!(text.contains("2 more notifications held back"), "{text}");
    assert_eq!(s.as_object().unwrap().len(), 1, "only text: {s}");
}

#[test]
fn an_overdue_approval_is_one_notice_per_item_and_critical_ones_are_urgent() {
    let o = Outgoing::Overdue {
        item: "hpa-enable-01".into(),
        title: "Enable an HPA for shop/web".into(),
        target: "HorizontalPodAutoscaler/shop/web".into(),
        tier: RiskTier::Medium,
        queued: t("2026-12-07T11:00:00Z"),
        at: t("2026-12-07T12:00:00Z"),
    };
    assert_eq!(key(&o), Some(("hpa-enable-01".to_string(), "overdue")));
    assert!(!urgent(&o));
    let v = body(&notification(&o, None, None, 0), Format::Json);
    assert_eq!(v["kind"], "approval-overdue");
    assert_eq!(v["tier"], "medium");
    assert_eq!(v["times"]["queued"], "2026-12-07T11:00:00Z");
    assert_eq!(v["link"], "/queue/hpa-enable-01", "a path without --public-url");
    assert!(v["text"].as_str().unwrap().contains("it needs one approval"), "{v}");
    let mut critical = o.clone();
    if let Outgoing::Overdue { tier, .. } = &mut critical {
        *tier = RiskTier::Critical;
    }
    assert!(urgent(&critical));
    assert!(urgent(&Outgoing::Event(opened(), Some(RiskTier::Critical))));
    assert!(!urgent(&Outgoing::Event(opened(), None)));
    assert_eq!(
        key(&Outgoing::Event(WatchEvent::Synced { at: t("2026-12-07T12:00:00Z"), pods: 1 }, None)),
        None
    );
}
