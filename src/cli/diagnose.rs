//! `aiops diagnose`: one root cause per target with evidence, fix and verify commands, or
//! every unhealthy pod of a scope in one line each, grouped by cause.

use std::fmt::Write as _;
use std::io::IsTerminal;

use anyhow::Context;
use clap::Args;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::{GlobalArgs, UsageError, exit, output};
use crate::analysis::diagnose::controller::{Target, diagnose_target, parse_target};
use crate::analysis::diagnose::{DiagnoseOptions, Diagnosis, diagnose_unhealthy};
use crate::config::{Config, OutputFormat};
use crate::jobs;
use crate::model::snapshot::ClusterSnapshot;

/// `aiops diagnose` flags.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// What to diagnose: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, cronjob/NAME
    /// (a bare NAME is a pod)
    pub target: Option<String>,
    /// Diagnose every unhealthy pod of the namespace (or of all namespaces with -A), one
    /// line each, grouped by cause
    #[arg(long)]
    pub all_unhealthy: bool,
    /// Put the remediation of each diagnosed failure into the approval queue (`--db`) as a
    /// `diagnosis-remediation` item: steps for a person (decided in the queue, applied by hand)
    #[arg(long)]
    pub enqueue: bool,
}

/// `--enqueue`: one `diagnosis-remediation` per failing pod's controller.
fn enqueue(
    args: &DiagnoseArgs,
    config: &Config,
    snap: &ClusterSnapshot,
    ds: &[&Diagnosis],
    namespace: Option<String>,
    complete: bool,
) -> anyhow::Result<()> {
    if !args.enqueue {
        return Ok(());
    }
    let recs: Vec<_> =
        ds.iter().filter_map(|d| crate::analysis::health::diagnosis_recommendation(snap, d)).collect();
    super::queue::enqueue_with(
        config,
        "diagnosis",
        &recs,
        Some(snap),
        namespace,
        Default::default(),
        complete,
    )?;
    Ok(())
}

fn find_namespace(snap: &ClusterSnapshot, target: &Target) -> Vec<String> {
    let mut out: Vec<String> = snap
        .objects
        .metas(target.kind)
        .into_iter()
        .filter(|m| m.name.as_deref() == Some(target.name.as_str()))
        .filter_map(|m| m.namespace.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Runs `aiops diagnose`.
///
/// # Errors
/// Usage errors (exit 2), a source that cannot be read, a target that does not exist.
pub async fn run(
    args: &DiagnoseArgs,
    g: &GlobalArgs,
    config: &Config,
    now: Timestamp,
    progress: crate::collectors::kube::Progress<'_>,
) -> anyhow::Result<u8> {
    let format = config.output;
    let target = match (&args.target, args.all_unhealthy) {
        (Some(_), true) => return Err(UsageError("give a target or --all-unhealthy, not both".into()).into()),
        (None, false) => {
            return Err(UsageError(
                "what to diagnose? e.g. `aiops diagnose pod/web-1 -n shop` or `--all-unhealthy -A`".into(),
            )
            .into());
        }
        (Some(t), false) => Some(parse_target(t).map_err(UsageError)?),
        (None, true) => None,
    };
    // Compile the log-signature library on another thread while the source is read.
    let _warm = std::thread::spawn(crate::analysis::diagnose::logsig::prepare);
    let source = super::source_of(g)?;
    let mut scope = super::scope_of(g);
    if let (Some(target), jobs::Source::Live) = (&target, &source) {
        // Live: targeted reads for this one target, never a full-cluster list.
        let ns = g.namespace.clone().unwrap_or_else(|| "default".to_string());
        let kopts = jobs::kube_options(config, Some(ns.clone()));
        let client = crate::collectors::kube::connect(&kopts).await.context("connecting to the cluster")?;
        let as_of = scope.as_of.unwrap_or(now);
        let mut snap =
            crate::collectors::kube_diagnose::collect(&client, &kopts, &ns, target.kind, &target.name, as_of)
                .await
                .context("reading the target from the cluster")?;
        let metrics_unavailable = add_history(&mut snap, config, &ns, target, as_of).await;
        output::clear_progress(std::io::stderr().is_terminal() && !g.quiet);
        let opts = DiagnoseOptions {
            policy: crate::analysis::sizing::SizingPolicy::default(),
            now: as_of,
            metrics_unavailable,
        };
        let mut d = diagnose_target(&snap, &ns, target, &opts).map_err(anyhow::Error::msg)?;
        for gap in &snap.gaps {
            d.notes.push(format!("not read: {} ({:?}): {}", gap.what, gap.reason, gap.detail));
        }
        print_one(&d, format)?;
        enqueue(args, config, &snap, &[&d], Some(ns), false)?;
        return Ok(exit::OK);
    }
    // A snapshot or the demo is read whole: a target without -n is looked up in every
    // namespace, and scheduling needs every pod on the nodes, whatever their namespace.
    if !matches!(source, jobs::Source::Live) {
        scope.namespace = None;
    }
    let mut snap =
        jobs::collect(&source, &scope, config, now, progress).await.context("collecting the cluster")?;
    output::clear_progress(std::io::stderr().is_terminal() && !g.quiet);
    let mut metrics_unavailable = None;
    if let Some(t) = &target
        && let Some(ns) = g.namespace.clone().or_else(|| find_namespace(&snap, t).first().cloned())
    {
        let as_of = snap.as_of();
        metrics_unavailable = add_history(&mut snap, config, &ns, t, as_of).await;
    }
    let opts = DiagnoseOptions {
        policy: crate::analysis::sizing::SizingPolicy::default(),
        now: snap.as_of(),
        metrics_unavailable,
    };
    match target {
        Some(target) => {
            let ns = match &g.namespace {
                Some(ns) => ns.clone(),
                None => {
                    let found = find_namespace(&snap, &target);
                    match found.as_slice() {
                        [one] => one.clone(),
                        [] => "default".to_string(),
                        many => {
                            return Err(UsageError(format!(
                                "{} {} exists in namespaces {}: pick one with -n",
                                target.kind,
                                target.name,
                                many.join(", ")
                            ))
                            .into());
                        }
                    }
                }
            };
            let d = diagnose_target(&snap, &ns, &target, &opts).map_err(anyhow::Error::msg)?;
            print_one(&d, format)?;
            enqueue(args, config, &snap, &[&d], Some(ns), false)?;
            Ok(exit::OK)
        }
        None => {
            let ns = if g.all_namespaces { None } else { g.namespace.as_deref() };
            let all = diagnose_unhealthy(&snap, ns, &opts);
            print_many(&all, &snap, format)?;
            let refs: Vec<&Diagnosis> = all.iter().collect();
            enqueue(args, config, &snap, &refs, ns.map(str::to_string), true)?;
            Ok(exit::OK)
        }
    }
}

/// With `--prometheus-url`: 24 h of memory and CPU-throttling history of the target's pods
/// (the pod, or a controller's unhealthy pods, at most five), each query with a 5 s
/// timeout and no retry. A failure is returned as the "metrics unavailable" note; the
/// diagnosis goes on without history.
async fn add_history(
    snap: &mut ClusterSnapshot,
    config: &Config,
    ns: &str,
    target: &Target,
    as_of: Timestamp,
) -> Option<String> {
    config.prometheus_url.as_ref()?;
    let mut popts = jobs::prom_options(config);
    popts.timeout = std::time::Duration::from_secs(5);
    popts.retries = 0;
    let pods: Vec<String> = if target.kind == crate::model::ObjectKind::Pod {
        vec![target.name.clone()]
    } else {
        let mine = |p: &Pod| {
            let t = snap.top_controller(p);
            t.name == target.name && t.kind == target.kind.as_str()
        };
        snap.all::<Pod>()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && mine(p))
            .filter(|p| crate::analysis::diagnose::is_unhealthy(p, as_of))
            .take(5)
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    };
    for pod in pods {
        if let Err(e) = crate::collectors::prometheus::fetch_pod_history(
            &popts,
            snap,
            ns,
            &pod,
            as_of,
            std::time::Duration::from_secs(86_400),
        )
        .await
        {
            return Some(e.to_string());
        }
    }
    None
}

fn colour() -> bool {
    std::io::stdout().is_terminal()
}

/// Renders one diagnosis as text (Markdown when `md`).
pub fn render_one(d: &Diagnosis, md: bool, colour: bool) -> String {
    let (b, r) = if colour { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
    let (red, green) = if colour { ("\x1b[31m", "\x1b[32m") } else { ("", "") };
    let mut out = String::new();
    let cls = if d.class == crate::analysis::diagnose::Class::Healthy {
        format!("{green}{}{r}", d.class)
    } else {
        format!("{red}{}{r}", d.class)
    };
    if md {
        let _ = writeln!(out, "# {} ({})\n\n**{}** — {}\n", d.target, d.namespace, d.class, d.summary);
        let _ = writeln!(out, "**Root cause:** {}\n", d.root_cause);
    } else {
        let _ = writeln!(
            out,
            "{b}{}{r} -n {}: {cls} (confidence {:.2}, risk {:?})",
            d.target, d.namespace, d.confidence, d.risk
        );
        let _ = writeln!(out, "{}\n", d.summary);
        let _ = writeln!(out, "{b}Root cause{r}\n  {}\n", d.root_cause);
    }
    let section = |out: &mut String, title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        if md {
            let _ = writeln!(out, "## {title}\n");
            for i in items {
                let _ = writeln!(out, "- {i}");
            }
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "{b}{title}{r}");
            for i in items {
                let _ = writeln!(out, "  - {i}");
            }
            let _ = writeln!(out);
        }
    };
    section(&mut out, "Evidence", d.evidence.iter().map(|e| format!("[{}] {}", e.source, e.text)).collect());
    section(&mut out, "Fix", d.remediation.clone());
    section(
        &mut out,
        "Verify",
        d.verify.iter().map(|v| if md { format!("`{v}`") } else { v.clone() }).collect(),
    );
    if !d.expected_outcome.is_empty() {
        section(&mut out, "Expected outcome", vec![d.expected_outcome.clone()]);
    }
    section(
        &mut out,
        "Also seen",
        d.secondary.iter().map(|s| format!("{}: {}", s.class, s.summary)).collect(),
    );
    section(&mut out, "Notes", d.notes.clone());
    out
}

fn print_one(d: &Diagnosis, format: OutputFormat) -> anyhow::Result<()> {
    if let Some(text) = output::structured(d, format)? {
        return output::emit(&text);
    }
    output::emit(&render_one(d, format == OutputFormat::Markdown, format == OutputFormat::Table && colour()))
}

fn print_many(all: &[Diagnosis], snap: &ClusterSnapshot, format: OutputFormat) -> anyhow::Result<()> {
    if let Some(text) = output::structured(&all, format)? {
        return output::emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut groups: std::collections::BTreeMap<String, Vec<&Diagnosis>> = std::collections::BTreeMap::new();
    for d in all {
        groups.entry(d.class.to_string()).or_default().push(d);
    }
    let mut out = String::new();
    let pods = snap.all::<Pod>().len();
    let _ = writeln!(out, "{} unhealthy pod(s) of {pods}, {} cause(s)\n", all.len(), groups.len());
    let mut order: Vec<(&String, &Vec<&Diagnosis>)> = groups.iter().collect();
    order.sort_by_key(|(k, v)| (std::cmp::Reverse(v.len()), (*k).clone()));
    for (class, ds) in order {
        if md {
            let _ = writeln!(out, "## {class} ({})\n", ds.len());
        } else {
            let _ = writeln!(out, "{class} ({})", ds.len());
        }
        for d in ds {
            let _ =
                writeln!(out, "{}{}/{}: {}", if md { "- " } else { "  " }, d.namespace, d.target, d.summary);
        }
        let _ = writeln!(out);
    }
    if all.is_empty() {
        let _ = writeln!(out, "nothing unhealthy");
    }
    output::emit(&out)
}
