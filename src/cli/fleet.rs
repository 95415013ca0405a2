//! Fleet runs: `--context a,b,c` or `--all-contexts` runs sizing, hpa, audit, diagnose
//! `--all-unhealthy` and the reports once per cluster, one after the other, each with its
//! own kubeconfig context and Prometheus cluster matcher ([`Config::for_context`]). Each
//! cluster's output is labelled with its name (reports go to `<out>/<cluster>/`); a cluster
//! that fails is a gap in the summary, and the others still run. I/O: stdout and stderr
//! (through [`super::output`]).

use serde_json::{Value, json};

use super::output::{self, captured, emit, structured};
use super::{Cli, CliError, Command, audit, diagnose, exit, hpa, report, sizing};
use crate::analysis::fleet::{ClusterFigures, ClusterOutcome};
use crate::config::{Config, OutputFormat};
use crate::jobs::{self, Ctx, JobError, collect};

/// The contexts of a fleet run, or `None` for a run over one cluster.
///
/// # Errors
/// Several contexts for a command that runs on one, with `--demo`, `--snapshot` or
/// `--cluster`; an unreadable kubeconfig for `--all-contexts`.
pub fn contexts(cli: &Cli, config: &Config) -> Result<Option<Vec<String>>, CliError> {
    let g = &cli.global;
    let mut names: Vec<String> = if g.all_contexts {
        collect::kubeconfig_contexts(config).map_err(JobError::collect("--all-contexts"))?
    } else {
        match g.context.as_deref() {
            Some(list) if list.contains(',') => list.split(',').map(|c| c.trim().to_string()).collect(),
            _ => return Ok(None),
        }
    };
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.clone()));
    let usage = |m: &str| Err(JobError::Usage(m.to_string()).into());
    if names.is_empty() {
        return usage("--context: no context named (give `a,b,c`), or the kubeconfig has none");
    }
    let fleet_command = match &cli.command {
        Command::Sizing(_) | Command::Hpa(_) | Command::Audit(_) | Command::Report(_) => true,
        Command::Diagnose(a) => a.all_unhealthy,
        _ => false,
    };
    if !fleet_command {
        return usage(
            "several contexts run sizing, hpa, audit, diagnose --all-unhealthy and report; this command takes one --context",
        );
    }
    if g.demo || g.snapshot.is_some() {
        return usage("several contexts read live clusters; --demo and --snapshot are one source");
    }
    if g.cluster.is_some() {
        return usage(
            "--cluster selects one cluster of a shared Prometheus; with several contexts each selects its own (its name, or `[[clusters]] prometheus_cluster` in the configuration)",
        );
    }
    Ok(Some(names))
}

/// A reports folder name for a context (`arn:aws:eks:...:cluster/prod` has characters a
/// path must not carry).
#[must_use]
pub fn folder_of(context: &str) -> String {
    let safe: String = context
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    // Never `.` or `..` (nor a hidden folder).
    match safe.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => safe,
    }
}

/// One cluster's run: its exit code and what it printed, or its failure; a report run's
/// figures for the fleet summary.
struct Outcome {
    context: String,
    result: Result<(u8, String), String>,
    figures: Option<ClusterFigures>,
}

/// Runs the command once per context, in order, and prints each output under its cluster's
/// name, then the gaps. Exit code: the highest of the runs' own, or 1 when a cluster failed.
///
/// # Errors
/// Printing.
pub async fn run(cli: &Cli, config: &Config, contexts: &[String], ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let format = config.output;
    let mut outcomes = Vec::new();
    for name in contexts {
        let mut cfg = config.for_context(name);
        // JSON and YAML are assembled into one document: each run gives JSON.
        if matches!(format, OutputFormat::Json | OutputFormat::Yaml) {
            cfg.output = OutputFormat::Json;
        }
        let cctx = Ctx { config: &cfg, clock: ctx.clock, progress: ctx.progress };
        tracing::info!(context = %name, "Running for one cluster of the fleet.");
        let (res, text) = captured(one(cli, name, &cctx)).await;
        output::clear_progress(cli.global.progress_drawn());
        let (result, figures) = match res {
            Ok((code, figures)) => (Ok((code, text)), figures),
            Err(e) => {
                let msg = error_text(&e);
                output::error_text(&format!("cluster {name}: {msg}"));
                (Err(msg), None)
            }
        };
        outcomes.push(Outcome { context: name.clone(), result, figures });
    }
    print(&outcomes, format)?;
    if let Command::Report(a) = &cli.command {
        fleet_summary(a, &outcomes, cli.global.as_of.unwrap_or_else(|| ctx.now()), format)?;
    }
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    if failed > 0 {
        output::note(&format!("{failed} of {} clusters failed (gaps above); the others ran", outcomes.len()));
        return Ok(exit::ERROR);
    }
    Ok(outcomes.iter().filter_map(|o| o.result.as_ref().ok().map(|r| r.0)).max().unwrap_or(exit::OK))
}

async fn one(cli: &Cli, context: &str, ctx: &Ctx<'_>) -> Result<(u8, Option<ClusterFigures>), CliError> {
    let g = &cli.global;
    let code = match &cli.command {
        Command::Sizing(a) => sizing::run(a, g, ctx).await,
        Command::Hpa(a) => hpa::run(a, g, ctx).await,
        Command::Audit(a) => audit::run(a, g, ctx).await,
        Command::Diagnose(a) => diagnose::run(a, g, ctx).await,
        Command::Report(a) => {
            let (code, out) = report::run_in(a, Some(&folder_of(context)), g, ctx).await?;
            return Ok((code, Some(out.figures)));
        }
        _ => Err(JobError::Usage("this command takes one --context".into()).into()),
    };
    code.map(|c| (c, None))
}

/// Writes the fleet summary of a report run next to the clusters' folders (a cluster that
/// failed is a gap in it) and prints the files written.
fn fleet_summary(
    a: &report::ReportArgs,
    outcomes: &[Outcome],
    as_of: jiff::Timestamp,
    format: OutputFormat,
) -> Result<(), CliError> {
    let clusters: Vec<ClusterOutcome> = outcomes
        .iter()
        .map(|o| {
            let folder = folder_of(&o.context);
            let result = match (&o.result, &o.figures) {
                (Err(e), _) => Err(e.clone()),
                (Ok(_), None) => Err("the run gave no report".to_string()),
                (Ok(_), Some(f)) => {
                    let mut f = f.clone();
                    f.reports = f.reports.iter().map(|r| format!("{folder}/{r}")).collect();
                    Ok(f)
                }
            };
            ClusterOutcome { cluster: o.context.clone(), result }
        })
        .collect();
    let which = a.options().which;
    let written = jobs::report::fleet::write_fleet(&a.out, &a.format, which, &clusters, as_of)?;
    let text: String = written.iter().map(|p| format!("wrote {}\n", p.display())).collect();
    if matches!(format, OutputFormat::Json | OutputFormat::Yaml) {
        // stdout holds one JSON (YAML) document.
        output::note(text.trim_end());
    } else {
        emit(&format!("fleet summary:\n{text}"))?;
    }
    Ok(())
}

/// An error and its causes on one line.
fn error_text(e: &CliError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn print(outcomes: &[Outcome], format: OutputFormat) -> Result<(), CliError> {
    if matches!(format, OutputFormat::Json | OutputFormat::Yaml) {
        let mut clusters = Vec::new();
        let mut gaps = Vec::new();
        for o in outcomes {
            match &o.result {
                Ok((_, text)) => {
                    let value =
                        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.clone()));
                    clusters.push(json!({"cluster": o.context, "output": value}));
                }
                Err(e) => gaps.push(json!({"cluster": o.context, "error": e})),
            }
        }
        let doc = json!({"clusters": clusters, "gaps": gaps});
        if let Some(text) = structured(&doc, format)? {
            emit(&text)?;
        }
        return Ok(());
    }
    let md = format == OutputFormat::Markdown;
    let mut text = String::new();
    for o in outcomes {
        text.push_str(&if md {
            format!("## Cluster {}\n\n", o.context)
        } else {
            format!("=== cluster {} ===\n", o.context)
        });
        match &o.result {
            Ok((_, out)) => text.push_str(out),
            Err(e) => text.push_str(&format!("not analysed: {e}\n")),
        }
        text.push('\n');
    }
    let gaps: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    if !gaps.is_empty() {
        text.push_str(if md { "## Gaps\n\n" } else { "=== gaps ===\n" });
        for o in gaps {
            if let Err(e) = &o.result {
                text.push_str(&format!("{}{}: {e}\n", if md { "- " } else { "" }, o.context));
            }
        }
    }
    emit(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_keep_safe_characters_only() {
        assert_eq!(folder_of("prod-eu.1_a"), "prod-eu.1_a");
        assert_eq!(folder_of("arn:aws:eks:eu-west-1:1:cluster/prod"), "arn_aws_eks_eu-west-1_1_cluster_prod");
        assert_eq!(folder_of("../x"), "_._x");
        assert_eq!(folder_of(".."), "_.");
    }
}
