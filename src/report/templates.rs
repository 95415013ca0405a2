//! The report templates (`report-templates/*`), compiled into the binary, and rendering a
//! serializable view model with them. No I/O.

use std::sync::OnceLock;

use serde::Serialize;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        /// Every template: (name, text).
        pub const TEMPLATES: &[(&str, &str)] = &[
            $( ($name, include_str!(concat!("../../report-templates/", $name))) ),*
        ];
    };
}

templates! {
    "phr.md",
    "health.md",
    "security.md",
    "base.html",
    "chart.html",
    "health.html",
    "security.html",
    "notify.md",
    "fleet.md",
    "fleet.html",
    "serve/layout.html",
    "serve/login.html",
    "serve/message.html",
    "serve/list.html",
    "serve/detail.html",
    "serve/reports.html",
    "serve/jobs.html",
}

fn engine() -> Result<&'static tera::Tera, String> {
    static ENGINE: OnceLock<Result<tera::Tera, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut t = tera::Tera::new();
            t.autoescape_on([".html"]);
            t.add_raw_templates(TEMPLATES.iter().copied()).map_err(|e| format!("{e:#}"))?;
            Ok(t)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Renders template `name` with `view` as its context (`view`'s fields are top-level
/// variables).
///
/// # Errors
/// The view does not serialize to a map, or the template fails (names the template).
pub fn render<T: Serialize>(name: &str, view: &T) -> Result<String, String> {
    let engine = engine()?;
    let ctx = tera::Context::from_serialize(view).map_err(|e| format!("{name}: {e}"))?;
    engine.render(name, &ctx).map_err(|e| {
        let mut msg = format!("{name}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        msg
    })
}
