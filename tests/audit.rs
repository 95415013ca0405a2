//! `aiops audit` end to end: every check of the catalogue on a failing and a near-identical
//! passing manifest, RBAC split across roles and bindings, suppression at each level,
//! SARIF and PolicyReport output validated against their schemas, the demo's planted
//! problems, `--fail-on` and the generated catalogue document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod support;

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run aiops")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit").join(rel)
}

fn json_of(o: &Output) -> Value {
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn audit_json(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["audit", "-f", path.to_str().unwrap(), "-o", "json"];
    args.extend_from_slice(extra);
    json_of(&aiops(&args))
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().unwrap()
}

fn open_checks(v: &Value) -> BTreeSet<String> {
    findings(v)
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_check_fails_its_manifest_and_passes_the_near_identical_one() {
    let cat = json_of(&aiops(&["audit", "--list-checks", "-o", "json"]));
    let ids: Vec<String> =
        cat.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.len() >= 60, "catalogue has {} checks", ids.len());
    let mut problems = Vec::new();
    for id in &ids {
        let dir = fixture(&format!("checks/{id}"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every check needs fixtures)", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let fails =
            files.iter().filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("fail")).count();
        let passes =
            files.iter().filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("pass")).count();
        assert!(fails >= 1 && passes >= 1, "{id}: needs fail*.yaml and pass*.yaml");
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            let v = audit_json(f, &[]);
            let hit = open_checks(&v).contains(id);
            if name.starts_with("fail") && !hit {
                problems.push(format!("{id}/{name}: not flagged"));
            }
            if name.starts_with("pass") && hit {
                problems.push(format!("{id}/{name}: flagged"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn findings_carry_the_json_contract() {
    let v = audit_json(&fixture("checks/privileged-container/fail.yaml"), &[]);
    let f = findings(&v).iter().find(|f| f["check"] == "privileged-container").unwrap();
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["category"], "pod-security");
    assert_eq!(f["object"], serde_json::json!({"kind": "Deployment", "namespace": "app", "name": "web"}));
    assert_eq!(f["container"], "app");
    assert_eq!(f["field"], "spec.template.spec.containers[0].securityContext.privileged");
    assert!(f["message"].as_str().unwrap().contains("securityContext.privileged` is true"));
    assert!(f["remediation"].as_str().unwrap().contains("privileged: false"));
    assert!(f["frameworks"].as_array().unwrap().iter().any(|x| x == "CIS 5.2.2"));
    assert!(f["suppressed"].is_null());
    // The line of `privileged: true` in the file.
    let text = std::fs::read_to_string(fixture("checks/privileged-container/fail.yaml")).unwrap();
    let want = text.lines().position(|l| l.trim() == "privileged: true").unwrap() + 1;
    assert_eq!(f["location"]["line"], want);
    // Critical finding → a recommendation with a patch and a rollback.
    let rec = v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "privileged-container")
        .unwrap();
    assert_eq!(rec["tier"], "medium");
    assert_eq!(
        rec["patch"]["spec"]["template"]["spec"]["containers"][0],
        serde_json::json!({"name": "app", "securityContext": {"privileged": false}})
    );
    assert_eq!(
        rec["rollback"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"],
        true
    );
}

#[test]
fn rbac_rights_split_across_roles_and_bindings_are_combined() {
    // rbac-csr-approve needs two rights; the fixture grants them through two ClusterRoles and
    // two ClusterRoleBindings (the pass variant drops one binding).
    let v = audit_json(&fixture("checks/rbac-csr-approve/fail.yaml"), &[]);
    let f = findings(&v).iter().find(|f| f["check"] == "rbac-csr-approve").unwrap();
    assert_eq!(f["object"]["kind"], "ServiceAccount");
    let related: Vec<&str> =
        f["related"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(related.contains(&"csr-approval") && related.contains(&"csr-signer"), "{related:?}");
    // Aggregated ClusterRole + a Role and a ClusterRole in another namespace, all for one SA.
    let v = audit_json(&fixture("rbac/split.yaml"), &[]);
    let of = |check: &str| {
        findings(&v)
            .iter()
            .filter(|f| f["check"] == check && f["object"]["name"] == "deployer")
            .cloned()
            .collect::<Vec<_>>()
    };
    let secrets = of("rbac-secrets-read-cluster");
    assert_eq!(secrets.len(), 1, "secrets via the aggregated role: {v:#}");
    let msg = secrets[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("ClusterRole/secrets-part") && msg.contains("ClusterRoleBinding/deployer-reader"),
        "{msg}"
    );
    let exec = of("rbac-pod-exec");
    assert_eq!(exec.len(), 1);
    let msg = exec[0]["message"].as_str().unwrap();
    assert!(msg.contains("in namespace shop") && msg.contains("in namespace billing"), "{msg}");
    // The workload running as that ServiceAccount is flagged too.
    assert!(
        findings(&v)
            .iter()
            .any(|f| f["check"] == "dangerous-service-account" && f["object"]["name"] == "deployer-job")
    );
    // A binding with the bootstrapping label is the API server's own: exempt.
    assert!(findings(&v).iter().all(|f| f["object"]["name"] != "system-thing"), "{v:#}");
}

fn suppressed_by(v: &Value, check: &str, container: Option<&str>) -> Option<Value> {
    findings(v)
        .iter()
        .find(|f| f["check"] == check && container.is_none_or(|c| f["container"] == c))
        .map(|f| f["suppressed"].clone())
}

#[test]
fn suppression_on_every_level() {
    let v = audit_json(&fixture("suppress/annotations.yaml"), &[]);
    // On the object.
    let s = suppressed_by(&v, "default-service-account", None).unwrap();
    assert_eq!(s["by"], "annotation");
    assert_eq!(s["reason"], "legacy app, migration tracked in OPS-12");
    // On the pod template.
    let s = suppressed_by(&v, "host-network", None).unwrap();
    assert_eq!(s["by"], "template-annotation");
    // Per container: only `sidecar` is suppressed.
    let s = suppressed_by(&v, "writable-root-filesystem", Some("sidecar")).unwrap();
    assert_eq!(s["by"], "container-annotation");
    assert!(suppressed_by(&v, "writable-root-filesystem", Some("app")).unwrap().is_null());
    // Counted and listed separately, never dropped.
    let n = findings(&v).iter().filter(|f| !f["suppressed"].is_null()).count();
    assert_eq!(v["suppressed"], n);
    let table = String::from_utf8(
        aiops(&["audit", "-f", fixture("suppress/annotations.yaml").to_str().unwrap()]).stdout,
    )
    .unwrap();
    assert!(table.contains(&format!("Suppressed ({n})")), "{table}");

    // Config exemptions, and strict checks that annotations cannot suppress.
    let policy = fixture("policies/policy.yaml");
    let v = audit_json(&fixture("suppress/annotations.yaml"), &["--policy", policy.to_str().unwrap()]);
    let s = suppressed_by(&v, "image-not-pinned", None).unwrap();
    assert_eq!(s["by"], "exemption");
    assert_eq!(s["reason"], "digests are pinned by the CD system");
    assert!(
        suppressed_by(&v, "host-network", None).unwrap().is_null(),
        "host-network is strict in the policy"
    );

    // A bad policy is a usage error naming the problem.
    let bad = aiops(&[
        "audit",
        "-f",
        policy.to_str().unwrap(),
        "--policy",
        fixture("policies/bad-policy.yaml").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no check matches `no-such-check`"));
}

/// A JSON Schema validator for the keywords the shipped schemas use: type, properties,
/// required, additionalProperties, items, enum, minimum, maximum, minItems, anyOf, $ref.
fn validate(schema: &Value, root: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").unwrap();
        return validate(&root["definitions"][name], root, v, path, errors);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("type {other}"),
        });
        if !ok {
            errors.push(format!("{path}: expected {types:?}, got {v}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{path}: {v} not in {e:?}"));
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        errors.push(format!("{path}: {x} < {min}"));
    }
    if let (Some(max), Some(x)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64())
        && x > max
    {
        errors.push(format!("{path}: {x} > {max}"));
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let ok = any.iter().any(|s| {
            let mut e = Vec::new();
            validate(s, root, v, path, &mut e);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{path}: matches none of anyOf"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}: missing required {r}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            let p = format!("{path}.{k}");
            match props.and_then(|m| m.get(k)) {
                Some(s) => validate(s, root, x, &p, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{p}: not allowed")),
                    Some(s @ Value::Object(_)) => validate(s, root, x, &p, errors),
                    _ => {}
                },
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (arr.len() as u64) < min
        {
            errors.push(format!("{path}: fewer than {min} items"));
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in arr.iter().enumerate() {
                validate(items, root, x, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

fn schema(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("schemas/{name}"))).unwrap()).unwrap()
}

#[test]
fn the_validator_rejects_what_it_should() {
    let s = schema("policyreport-v1alpha2.json");
    let mut e = Vec::new();
    let bad = serde_json::json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "x"},
        "results": [{"policy": "p", "severity": "urgent", "result": "fail", "bogus": 1, "timestamp": {"seconds": 1}}]});
    validate(&s, &s, &bad, "$", &mut e);
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn sarif_for_manifests_validates_and_points_at_file_and_line() {
    let dir = fixture("suppress");
    let o = aiops(&["audit", "-f", dir.to_str().unwrap(), "-o", "sarif"]);
    let v = json_of(&o);
    let s = schema("sarif-2.1.0-subset.json");
    let mut errors = Vec::new();
    validate(&s, &s, &v, "$", &mut errors);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let results = v["runs"][0]["results"].as_array().unwrap();
    let hn = results.iter().find(|r| r["ruleId"] == "host-network").unwrap();
    let loc = &hn["locations"][0]["physicalLocation"];
    assert!(loc["artifactLocation"]["uri"].as_str().unwrap().ends_with("suppress/annotations.yaml"));
    let text = std::fs::read_to_string(dir.join("annotations.yaml")).unwrap();
    let want = text.lines().position(|l| l.trim() == "hostNetwork: true").unwrap() + 1;
    assert_eq!(loc["region"]["startLine"], want);
    assert_eq!(hn["suppressions"][0]["kind"], "inSource");
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules[hn["ruleIndex"].as_u64().unwrap() as usize]["id"], "host-network");
}

fn yaml_docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

#[test]
fn policy_reports_of_the_demo_validate() {
    let o = aiops(&["audit", "--demo", "-o", "policyreport"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // `--format` is the same flag under its older name.
    assert_eq!(aiops(&["audit", "--demo", "--format", "policyreport"]).stdout, o.stdout);
    let docs = yaml_docs(&String::from_utf8(o.stdout).unwrap());
    let s = schema("policyreport-v1alpha2.json");
    let mut errors = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        validate(&s, &s, d, &format!("doc{i}"), &mut errors);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let cluster = docs.iter().filter(|d| d["kind"] == "ClusterPolicyReport").count();
    assert_eq!(cluster, 1);
    let legacy = docs.iter().find(|d| d["metadata"]["namespace"] == "legacy").unwrap();
    let results = legacy["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["policy"] == "privileged-container" && r["result"] == "fail"));
    assert_eq!(legacy["summary"]["fail"], results.iter().filter(|r| r["result"] == "fail").count());
    // kube-system is exempt by default: its results are skips.
    if let Some(ks) = docs.iter().find(|d| d["metadata"]["namespace"] == "kube-system") {
        assert!(ks["results"].as_array().unwrap().iter().all(|r| r["result"] == "skip"));
    }
}

#[test]
fn the_demo_planted_problems_are_all_found() {
    let v = json_of(&aiops(&["audit", "--demo", "-o", "json"]));
    let has = |check: &str, kind: &str, ns: Option<&str>, name: &str| {
        findings(&v).iter().any(|f| {
            f["check"] == check
                && f["suppressed"].is_null()
                && f["object"]["kind"] == kind
                && f["object"]["name"] == name
                && ns.is_none_or(|n| f["object"]["namespace"] == n)
        })
    };
    assert!(has("privileged-container", "Pod", Some("legacy"), "node-debugger"), "{v:#}");
    assert!(has("host-pid", "Pod", Some("legacy"), "node-debugger"));
    assert!(has("image-latest-tag", "Deployment", Some("legacy"), "cms"));
    assert!(has("rbac-cluster-admin", "ServiceAccount", Some("legacy"), "default"));
    let admin = findings(&v)
        .iter()
        .find(|f| f["check"] == "rbac-cluster-admin" && f["object"]["name"] == "default")
        .unwrap();
    assert!(admin["related"].as_array().unwrap().iter().any(|r| r["name"] == "legacy-default-admin"));
    assert!(has("namespace-no-network-policy", "Namespace", None, "legacy"));
    assert!(has("service-account-token-secret", "Secret", Some("legacy"), "default-token"));
    assert!(has("ingress-no-tls", "Ingress", Some("legacy"), "cms"));
    assert!(has("namespace-psa-missing", "Namespace", None, "legacy"));
    // Namespaces with a default deny are not flagged for it.
    assert!(!has("namespace-no-network-policy", "Namespace", None, "shop"));
    assert!(!has("no-default-deny-ingress", "Namespace", None, "shop"));
    assert!(!has("no-default-deny-ingress", "Namespace", None, "billing"));
    assert!(
        v["vulnerabilities"]["note"].as_str().unwrap().contains("no vulnerability data source was found")
    );
    // Ranked: severity never increases down the open list.
    let rank = |s: &str| ["low", "medium", "high", "critical"].iter().position(|x| *x == s).unwrap();
    let sev: Vec<usize> = findings(&v)
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| rank(f["severity"].as_str().unwrap()))
        .collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]));
    let score = v["score"]["cluster"].as_u64().unwrap();
    assert!(score <= 49, "critical findings cap the score: {score}");
}

#[test]
fn fail_on_sets_exit_code_three() {
    let f = fixture("checks/image-not-pinned/fail.yaml");
    let f = f.to_str().unwrap();
    // Only low/medium findings there: high passes, low fails.
    assert_eq!(aiops(&["audit", "-f", f, "--fail-on", "high"]).status.code(), Some(0));
    assert_eq!(aiops(&["audit", "-f", f, "--fail-on", "low"]).status.code(), Some(3));
    let p = fixture("checks/privileged-container/fail.yaml");
    assert_eq!(aiops(&["audit", "-f", p.to_str().unwrap(), "--fail-on", "critical"]).status.code(), Some(3));
    // Usage errors.
    assert_eq!(aiops(&["audit", "-f", f, "--fail-on", "severe"]).status.code(), Some(2));
    assert_eq!(aiops(&["audit", "-f", f, "--demo"]).status.code(), Some(2));
    let missing = aiops(&["audit", "-f", "/nonexistent/x.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/x.yaml"));
}

#[test]
fn bad_manifests_name_file_and_field() {
    let o = aiops(&["audit", "-f", fixture("bad/typed.yaml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("typed.yaml") && e.contains("spec.template.spec.containers[0].ports[0].containerPort"),
        "{e}"
    );
    let o = aiops(&["audit", "-f", fixture("bad/syntax.yaml").to_str().unwrap()]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("syntax.yaml:8:"), "the line counts from the file, not the document: {e}");
}

#[test]
fn json_lists_and_multi_document_directories() {
    let v = audit_json(&fixture("lists"), &[]);
    let objs: BTreeSet<String> =
        findings(&v).iter().map(|f| f["object"]["name"].as_str().unwrap().to_string()).collect();
    assert!(objs.contains("from-json-list") && objs.contains("from-yaml-list"), "{objs:?}");
    let f = findings(&v)
        .iter()
        .find(|f| f["check"] == "privileged-container" && f["object"]["name"] == "from-json-list")
        .unwrap();
    let text = std::fs::read_to_string(fixture("lists/pods.json")).unwrap();
    let want = text.lines().position(|l| l.contains("\"privileged\": true")).unwrap() + 1;
    assert_eq!(f["location"]["line"], want);
}

#[test]
fn the_catalogue_document_is_up_to_date() {
    let o = aiops(&["audit", "--list-checks", "-o", "markdown"]);
    assert!(o.status.success());
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit-checks.md");
    let have = std::fs::read_to_string(&doc).unwrap_or_default();
    assert!(
        have == String::from_utf8(o.stdout).unwrap(),
        "docs/audit-checks.md is stale: run `aiops audit --list-checks -o markdown > docs/audit-checks.md`"
    );
}

#[test]
fn audit_only_formats_are_refused_elsewhere() {
    for cmd in [&["inventory", "--demo"][..], &["sizing", "--demo"][..], &["diagnose", "pod/x", "--demo"][..]]
    {
        let mut args = cmd.to_vec();
        args.extend(["-o", "sarif"]);
        let o = aiops(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("only `aiops audit` writes this format"), "{err}");
        assert!(o.stdout.is_empty());
    }
}

/// Live: `aiops audit` lists trivy-operator VulnerabilityReports from the API and joins
/// them to the Deployment through its ReplicaSet; an undecodable report is named and the
/// others kept; a cluster without the CRD says so plainly.
#[test]
fn live_audit_reads_vulnerability_reports_from_the_api() {
    use aiops::collectors::manifest_files::load_manifests;
    let file = fixture("checks/vulnerable-image-critical/fail.yaml");
    let set = load_manifests(std::slice::from_ref(&file), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut reports: Vec<Value> =
        yaml_docs(&text).into_iter().filter(|d| d["kind"] == "VulnerabilityReport").collect();
    assert_eq!(reports.len(), 1);
    let mut broken = reports[0].clone();
    broken["metadata"]["name"] = "broken-report".into();
    broken["report"]["vulnerabilities"] = "not a list".into();
    reports.push(broken);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: Vec<(&'static str, &'static str, Vec<Value>)>| {
        let (url, seen) = rt.block_on(support::snapshot_api::start_with(set.snapshot.clone(), extra));
        let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["audit", "-o", "json", "--as-of", "2026-11-23T00:00:00Z", "--kubeconfig"])
            .arg(&kubeconfig)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .output()
            .unwrap();
        (json_of(&o), seen)
    };
    let (v, seen) = run(vec![("/apis/aquasecurity.github.io/v1alpha1", "vulnerabilityreports", reports)]);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|s| s.path == "/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports")
    );
    let vuln = findings(&v)
        .iter()
        .find(|f| f["check"] == "vulnerable-image-critical")
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    assert_eq!(vuln["object"]["kind"], "Deployment");
    assert_eq!(vuln["object"]["name"], "web");
    assert_eq!(v["vulnerabilities"]["reports"], 1, "{:#}", v["vulnerabilities"]);
    let note = v["vulnerabilities"]["note"].as_str().unwrap();
    assert!(note.contains("VulnerabilityReport app/broken-report"), "{note}");

    // No trivy-operator: the API group is not served.
    let (v, _) = run(Vec::new());
    assert!(!findings(&v).iter().any(|f| f["check"] == "vulnerable-image-critical"));
    let note = v["vulnerabilities"]["note"].as_str().unwrap();
    assert!(note.starts_with("no vulnerability data source was found"), "{note}");
    assert!(note.contains("trivy-operator is not installed"), "{note}");
}
