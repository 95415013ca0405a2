//! Chart view models for the HTML reports: the geometry of inline SVG charts (bars, lines,
//! labels) laid out from figures the analysis computed. Rendered by
//! `report-templates/chart.html`; no I/O, nothing computed that the report states.

use serde::Serialize;

/// A rectangle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// CSS class (`c0`..`c7`, `crit`, `high`, ...).
    pub class: String,
    /// Tooltip.
    pub title: String,
}

/// A polyline or horizontal rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// `x,y x,y ...`.
    pub points: String,
    pub class: String,
    pub title: String,
}

/// A text label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// `start`, `middle`, `end`.
    pub anchor: &'static str,
    pub class: String,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendItem {
    pub class: String,
    pub text: String,
}

/// An inline SVG chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// Stable id (`chart-pods-by-phase`); the browser test looks for it.
    pub id: String,
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub rects: Vec<Rect>,
    pub lines: Vec<Line>,
    pub labels: Vec<Label>,
    pub legend: Vec<LegendItem>,
    /// Shown instead of the chart when there is nothing to draw.
    pub empty: Option<String>,
}

impl Chart {
    fn new(id: &str, title: &str, width: f64, height: f64) -> Self {
        Chart {
            id: id.into(),
            title: title.into(),
            width,
            height,
            rects: Vec::new(),
            lines: Vec::new(),
            labels: Vec::new(),
            legend: Vec::new(),
            empty: None,
        }
    }
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Stacked horizontal bars: one row per label, one segment per series.
pub fn stacked_bars(
    id: &str,
    title: &str,
    series: &[(&str, &str)],
    rows: &[(String, Vec<f64>)],
    unit: &str,
) -> Chart {
    let row_h = 20.0;
    let label_w = 170.0;
    let bar_w = 460.0;
    let height = 30.0 + row_h * rows.len() as f64;
    let mut c = Chart::new(id, title, label_w + bar_w + 80.0, height.max(50.0));
    c.legend = series
        .iter()
        .map(|(class, text)| LegendItem { class: (*class).into(), text: (*text).into() })
        .collect();
    let max = rows.iter().map(|(_, v)| v.iter().sum::<f64>()).fold(0.0_f64, f64::max);
    if rows.is_empty() || max <= 0.0 {
        c.empty = Some("nothing to chart".into());
        return c;
    }
    for (i, (label, values)) in rows.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        c.labels.push(Label {
            x: label_w - 6.0,
            y: y + 13.0,
            text: label.clone(),
            anchor: "end",
            class: "lbl".into(),
        });
        let mut x = label_w;
        for (j, v) in values.iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let w = r1(v / max * bar_w);
            let (class, name) = series.get(j).copied().unwrap_or(("c0", ""));
            c.rects.push(Rect {
                x: r1(x),
                y,
                w,
                h: row_h - 4.0,
                class: class.into(),
                title: format!("{label}: {v} {name}"),
            });
            x += w;
        }
        let total: f64 = values.iter().sum();
        c.labels.push(Label {
            x: r1(x + 4.0),
            y: y + 13.0,
            text: format!("{total}{unit}"),
            anchor: "start",
            class: "val".into(),
        });
    }
    c
}

/// Node utilisation: per node, requested and used as a share of allocatable (0–100%+).
pub fn utilisation_bars(id: &str, title: &str, rows: &[(String, f64, Option<f64>)]) -> Chart {
    let row_h = 26.0;
    let label_w = 170.0;
    let bar_w = 420.0;
    let mut c = Chart::new(id, title, label_w + bar_w + 110.0, (30.0 + row_h * rows.len() as f64).max(50.0));
    c.legend = vec![
        LegendItem { class: "req".into(), text: "requested".into() },
        LegendItem { class: "used".into(), text: "used".into() },
    ];
    if rows.is_empty() {
        c.empty = Some("no nodes".into());
        return c;
    }
    for (i, (label, req, used)) in rows.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        c.labels.push(Label {
            x: label_w - 6.0,
            y: y + 15.0,
            text: label.clone(),
            anchor: "end",
            class: "lbl".into(),
        });
        c.rects.push(Rect {
            x: label_w,
            y,
            w: bar_w,
            h: 20.0,
            class: "track".into(),
            title: "allocatable".into(),
        });
        c.rects.push(Rect {
            x: label_w,
            y,
            w: r1(req.clamp(0.0, 1.0) * bar_w),
            h: 10.0,
            class: "req".into(),
            title: format!("{label}: requested {:.0}% of allocatable", req * 100.0),
        });
        if let Some(u) = used {
            c.rects.push(Rect {
                x: label_w,
                y: y + 10.0,
                w: r1(u.clamp(0.0, 1.0) * bar_w),
                h: 10.0,
                class: "used".into(),
                title: format!("{label}: used {:.0}% of allocatable", u * 100.0),
            });
        }
        let text = match used {
            Some(u) => format!("{:.0}% / {:.0}%", req * 100.0, u * 100.0),
            None => format!("{:.0}% / n/a", req * 100.0),
        };
        c.labels.push(Label {
            x: label_w + bar_w + 6.0,
            y: y + 15.0,
            text,
            anchor: "start",
            class: "val".into(),
        });
    }
    c
}

/// A time series against horizontal reference lines (quantiles, request, limit).
pub struct SeriesChart<'a> {
    pub id: String,
    pub title: String,
    /// (Unix ms, value).
    pub points: &'a [(i64, f64)],
    /// (value, class, label).
    pub rules: Vec<(f64, &'static str, String)>,
    pub unit_label: String,
    /// Formats an axis value.
    pub fmt: &'a dyn Fn(f64) -> String,
}

/// Lays out a [`SeriesChart`]. The value axis fits the usage and the usage-derived rules
/// (quantiles, recommended values); a current request or limit far above them (more than 3×)
/// is not drawn to scale but named at the top edge ("off scale"), so the usage stays
/// readable. Rule labels are moved apart so they never overlap.
pub fn series_chart(s: &SeriesChart<'_>) -> Chart {
    let (w, h, left, top, bottom) = (560.0, 210.0, 56.0, 12.0, 24.0);
    let plot_w = w - left - 150.0;
    let plot_h = h - top - bottom;
    let mut c = Chart::new(&s.id, &s.title, w, h);
    let (Some(first), Some(last)) = (s.points.first(), s.points.last()) else {
        c.empty = Some("no samples".into());
        return c;
    };
    let finite = |v: &f64| v.is_finite();
    let core = s
        .points
        .iter()
        .map(|p| p.1)
        .chain(s.rules.iter().filter(|r| !matches!(r.1, "cur" | "curlim")).map(|r| r.0))
        .filter(finite)
        .fold(0.0_f64, f64::max);
    let with_current = s
        .rules
        .iter()
        .filter(|r| matches!(r.1, "cur" | "curlim") && r.0 <= 3.0 * core)
        .map(|r| r.0)
        .fold(core, f64::max);
    let max = with_current * 1.1;
    if max <= 0.0 {
        c.empty = Some("all samples are zero".into());
        return c;
    }
    let span = (last.0 - first.0).max(1) as f64;
    let x = |t: i64| r1(left + (t - first.0) as f64 / span * plot_w);
    let y = |v: f64| r1(top + plot_h - v.min(max) / max * plot_h);
    c.rects.push(Rect { x: left, y: top, w: plot_w, h: plot_h, class: "plot".into(), title: String::new() });
    let pts: Vec<String> = s.points.iter().map(|(t, v)| format!("{},{}", x(*t), y(*v))).collect();
    c.lines.push(Line { points: pts.join(" "), class: "usage".into(), title: s.unit_label.clone() });
    c.legend.push(LegendItem { class: "usage".into(), text: s.unit_label.clone() });
    let mut labels: Vec<(f64, String, String)> = Vec::new();
    for (v, class, label) in &s.rules {
        if !v.is_finite() {
            continue;
        }
        let off = *v > max;
        let yy = y(*v);
        if !off {
            c.lines.push(Line {
                points: format!("{left},{yy} {},{yy}", r1(left + plot_w)),
                class: (*class).into(),
                title: format!("{label}: {}", (s.fmt)(*v)),
            });
        }
        let text = if off {
            format!("{label} {} (off scale ↑)", (s.fmt)(*v))
        } else {
            format!("{label} {}", (s.fmt)(*v))
        };
        labels.push((yy + 4.0, text, format!("rl {class}")));
    }
    // Spread the labels: at least 11 px apart, inside the chart.
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    for i in 1..labels.len() {
        if labels[i].0 < labels[i - 1].0 + 11.0 {
            labels[i].0 = labels[i - 1].0 + 11.0;
        }
    }
    let overflow = labels.last().map_or(0.0, |l| l.0 - (h - 2.0)).max(0.0);
    for (yy, text, class) in labels {
        c.labels.push(Label {
            x: r1(left + plot_w + 6.0),
            y: r1((yy - overflow).max(10.0)),
            text,
            anchor: "start",
            class,
        });
    }
    c.labels.push(Label {
        x: left - 4.0,
        y: top + 8.0,
        text: (s.fmt)(max),
        anchor: "end",
        class: "ax".into(),
    });
    c.labels.push(Label {
        x: left - 4.0,
        y: top + plot_h,
        text: "0".into(),
        anchor: "end",
        class: "ax".into(),
    });
    let day = |t: i64| {
        jiff::Timestamp::from_millisecond(t).map(|ts| ts.strftime("%a %d").to_string()).unwrap_or_default()
    };
    c.labels.push(Label { x: left, y: h - 6.0, text: day(first.0), anchor: "start", class: "ax".into() });
    c.labels.push(Label {
        x: r1(left + plot_w),
        y: h - 6.0,
        text: day(last.0),
        anchor: "end",
        class: "ax".into(),
    });
    c
}
