//! Tests of `snapshot.rs` (its sibling).

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

fn meta(ns: &str, name: &str, uid: &str, owner: Option<(&str, &str, &str)>) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        uid: Some(uid.into()),
        owner_references: owner.map(|(kind, n, u)| {
            vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: kind.into(),
                name: n.into(),
                uid: u.into(),
                controller: Some(true),
                ..Default::default()
            }]
        }),
        ..Default::default()
    }
}

#[test]
fn owner_chain_reaches_the_deployment() {
    let mut s = ClusterSnapshot::new(SourceKind::Demo, Timestamp::UNIX_EPOCH);
    s.insert(Deployment { metadata: meta("shop", "web", "d1", None), ..Default::default() });
    s.insert(ReplicaSet {
        metadata: meta("shop", "web-abc", "r1", Some(("Deployment", "web", "d1"))),
        ..Default::default()
    });
    s.insert(Pod {
        metadata: meta("shop", "web-abc-x", "p1", Some(("ReplicaSet", "web-abc", "r1"))),
        ..Default::default()
    });
    let pod = &s.all::<Pod>()[0];
    let chain = s.owner_chain(pod.meta());
    let kinds: Vec<&str> = chain.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["ReplicaSet", "Deployment"]);
    assert_eq!(s.top_controller(pod).to_string(), "Deployment/shop/web");
    assert!(s.get::<Pod>(Some("shop"), "web-abc-x").is_some());
    assert!(s.get::<Pod>(Some("other"), "web-abc-x").is_none());
    assert_eq!(s.children("d1").len(), 1);
}

#[test]
fn owner_outside_the_snapshot_ends_the_chain() {
    let mut s = ClusterSnapshot::new(SourceKind::Demo, Timestamp::UNIX_EPOCH);
    s.insert(Pod {
        metadata: meta("ns", "p", "p1", Some(("Rollout", "canary", "x9"))),
        ..Default::default()
    });
    let chain = s.owner_chain(s.all::<Pod>()[0].meta());
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].to_string(), "Rollout/ns/canary");
}

#[test]
fn selectors() {
    let labels: BTreeMap<String, String> =
        [("app".to_string(), "web".to_string()), ("tier".into(), "front".into())].into();
    let sel = |ml: &[(&str, &str)], ex: Vec<(&str, &str, Vec<&str>)>| LabelSelector {
        match_labels: Some(ml.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        match_expressions: Some(
            ex.into_iter()
                .map(|(k, op, vs)| LabelSelectorRequirement {
                    key: k.into(),
                    operator: op.into(),
                    values: Some(vs.into_iter().map(String::from).collect()),
                })
                .collect(),
        ),
    };
    assert!(selector_matches(&sel(&[("app", "web")], vec![]), Some(&labels)));
    assert!(!selector_matches(&sel(&[("app", "api")], vec![]), Some(&labels)));
    assert!(selector_matches(&sel(&[], vec![("tier", "In", vec!["front", "back"])]), Some(&labels)));
    assert!(!selector_matches(&sel(&[], vec![("tier", "NotIn", vec!["front"])]), Some(&labels)));
    assert!(selector_matches(&sel(&[], vec![("zone", "DoesNotExist", vec![])]), Some(&labels)));
    assert!(!selector_matches(&sel(&[], vec![("zone", "Exists", vec![])]), Some(&labels)));
    assert!(!selector_matches(&sel(&[], vec![("app", "Bogus", vec![])]), Some(&labels)));
    assert!(selector_matches(&LabelSelector::default(), None));
    assert!(!map_selector_matches(Some(&BTreeMap::new()), Some(&labels)));
    assert!(map_selector_matches(Some(&[("app".to_string(), "web".to_string())].into()), Some(&labels)));
}
