//! The CLI and the server's schedules build the same typed requests: `aiops sizing
//! --enqueue`, `aiops hpa --enqueue` and `aiops report health|security --enqueue` with no
//! other flags give exactly the request the server's daily and weekly runs give.

use std::path::PathBuf;

use clap::Parser;

use super::{Cli, Command};
use crate::config::Config;
use crate::jobs::hpa::HpaRequest;
use crate::jobs::report::{ReportOptions, Which};
use crate::jobs::sizing::SizingRequest;
use crate::jobs::{Scope, Source};

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("aiops").chain(args.iter().copied())).unwrap()
}

#[test]
fn sizing_flags_and_the_daily_schedule_give_the_same_request() {
    let cli = parse(&["--demo", "sizing", "--enqueue"]);
    let Command::Sizing(args) = &cli.command else { panic!("sizing") };
    let config = Config::default();
    let from_cli =
        SizingRequest::new(args.options(), cli.global.source().unwrap(), cli.global.scope(), &config);
    let scheduled =
        SizingRequest::scheduled(Source::Demo { seed: 42, scale: None }, Scope::default(), &config);
    assert_eq!(from_cli.unwrap(), scheduled.unwrap());
}

#[test]
fn hpa_flags_and_the_daily_schedule_give_the_same_request() {
    let cli = parse(&["--demo", "hpa", "--enqueue"]);
    let Command::Hpa(args) = &cli.command else { panic!("hpa") };
    let config = Config::default();
    let from_cli =
        HpaRequest::new(&args.options(), cli.global.source().unwrap(), cli.global.scope(), &config);
    let scheduled = HpaRequest::scheduled(Source::Demo { seed: 42, scale: None }, Scope::default(), &config);
    assert_eq!(from_cli.unwrap(), scheduled.unwrap());
}

#[test]
fn report_flags_and_the_weekly_schedules_give_the_same_options() {
    for (which, want) in [("health", Which::Health), ("security", Which::Security)] {
        let cli = parse(&["report", which, "--out", "r", "--enqueue"]);
        let Command::Report(args) = &cli.command else { panic!("report") };
        let scheduled = ReportOptions { enqueue: true, ..ReportOptions::new(want, PathBuf::from("r")) };
        assert_eq!(args.options(), scheduled, "{which}");
    }
}

#[test]
fn a_flag_changes_the_request() {
    // The comparison above can fail: a different flag gives a different request.
    let cli = parse(&["--demo", "sizing", "--enqueue", "--margin", "0.5"]);
    let Command::Sizing(args) = &cli.command else { panic!("sizing") };
    let config = Config::default();
    let from_cli =
        SizingRequest::new(args.options(), cli.global.source().unwrap(), cli.global.scope(), &config);
    let scheduled =
        SizingRequest::scheduled(Source::Demo { seed: 42, scale: None }, Scope::default(), &config);
    assert_ne!(from_cli.unwrap(), scheduled.unwrap());
}
